// The threaded kernels give the same bits at every thread count (1, 2, 3) on every ISA path, on shapes that
// split unevenly: M = 1 (GEMV, N split), M not a multiple of the 8-row tile or the 24-token transform tile,
// N not a multiple of the 16-row panel or the 3-panel split unit, fewer panel groups than threads (M split),
// K tails. The 1-thread result is itself checked against a double-precision product of the dequantized
// operands (an independent computation), so "equal to one thread" cannot hide a wrong answer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "act_transform_data.h"
#include "kernel_test_util.h"
#include "kernels/act_quant.h"
#include "kernels/int_gemm.h"
#include "kernels/nn_ops.h"
#include "threads_scope.h"

namespace duq::kernels {
namespace {

using duq::test::available_isas;
using duq::test::IsaScope;
using duq::test::kThreadCounts;
using duq::test::random_mat;
using duq::test::ThreadsScope;

void expect_bits(const Mat& a, const Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (int64_t i = 0; i < a.rows(); ++i)
    ASSERT_EQ(std::memcmp(a.row(i), b.row(i), sizeof(float) * static_cast<size_t>(a.cols())), 0)
        << what << " row " << i;
}

struct Shape {
  int64_t m, n, k;
};
// Every shape is above the GEMM's serial threshold (2^22 MACs) so the split really happens.
constexpr Shape kShapes[] = {
    {1, 4100, 1030},  // GEMV: 257 panels → 86 groups, split 43/43 (2 threads), 28/29/29 (3)
    {1, 80, 60000},   // GEMV with fewer panel groups (2) than 3 threads
    {37, 1100, 110},  // 69 panels → 23 groups; M tail of 5 rows
    {700, 20, 300},   // 2 panels → 1 group: the M tiles split instead
    {9, 4200, 130},   // M just over one tile, N split
    {512, 48, 200},   // exactly one group, many tiles
};

TEST(ThreadsKernels, IntGemmSameBitsAtEveryThreadCount) {
  Rng rng(71);
  for (const Shape s : kShapes)
    for (auto [wb, ab] : {std::pair{4, 4}, std::pair{4, 8}, std::pair{8, 8}}) {
      const Mat xf = random_mat(rng, s.m, s.k);
      const Mat wf = random_mat(rng, s.n, s.k, 0.05f);
      QuantActs x;
      quantize_acts(xf, ab, 0.9f, x);
      const PackedWeights w = quantize_pack_weights(wf, wb, 0.8f);
      std::string what = "W";
      what += std::to_string(wb) + "A" + std::to_string(ab) + " " + std::to_string(s.m) + "x" + std::to_string(s.n) +
              "x" + std::to_string(s.k);
      // Independent check of the one-thread result: double product of the dequantized operands.
      Mat ref(s.m, s.n);
      {
        ThreadsScope one(1);
        int_gemm(x, w, ref);
      }
      const Mat xd = dequantize_acts(x), wd = dequantize_weights(w);
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = 0, mag = 0;
          for (int64_t c = 0; c < s.k; ++c) {
            acc += double(xd(i, c)) * wd(j, c);
            mag += std::fabs(double(xd(i, c)) * wd(j, c));
          }
          ASSERT_NEAR(ref(i, j), acc, 1e-5 * mag + 1e-30) << what << " (" << i << "," << j << ")";
        }
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        for (int t : kThreadCounts) {
          ThreadsScope threads(t);
          Mat y(s.m, s.n);
          int_gemm(x, w, y);
          expect_bits(y, ref, what + " " + isa_name(isa) + " threads " + std::to_string(t));
          if (HasFatalFailure()) return;
        }
      }
    }
}

TEST(ThreadsKernels, IntGemmWritesOnlyItsStridedOutput) {
  // y a column slice of a wider matrix: the threads' offsets must honour its row stride.
  Rng rng(72);
  const int64_t M = 33, N = 1000, K = 256, W = 1030, C0 = 20;  // 8.4M MACs: split
  const Mat xf = random_mat(rng, M, K), wf = random_mat(rng, N, K, 0.05f);
  QuantActs x;
  quantize_acts(xf, 4, 1.f, x);
  const PackedWeights w = quantize_pack_weights(wf, 4, 1.f);
  Mat want(M, N);
  {
    ThreadsScope one(1);
    int_gemm(x, w, want);
  }
  for (int t : kThreadCounts) {
    ThreadsScope threads(t);
    Mat big(M, W);
    for (float& v : big.flat()) v = -7.f;
    int_gemm(x, w, big.view().cols_slice(C0, N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < W; ++j) {
        if (j < C0 || j >= C0 + N)
          ASSERT_EQ(big(i, j), -7.f) << "threads " << t << " wrote outside y at " << i << "," << j;
        else ASSERT_EQ(std::memcmp(&big(i, j), &want(i, j - C0), 4), 0) << "threads " << t;
      }
  }
}

TEST(ThreadsKernels, TransformQuantizeSameBitsAtEveryThreadCount) {
  Rng rng(73);
  // Token counts around the 24-token tile: 1 and 5 stay serial (under 4 rows per thread), 16 and 23 split by
  // rows (a batched decode step: fewer rows than one tile per thread), 70, 95 and 400 by whole tiles, with
  // tails; K with a tail block (1000 = 15·64 + 40).
  for (int64_t m : {1, 5, 16, 23, 70, 95, 400})
    for (bool integer : {false, true}) {
      const int64_t k = 1000, b = 64;
      test::TransformData d = test::make_transform(rng, k, b, true, true, true);
      const ActTransform t = integer ? d.integer() : d.t;
      const Mat x = random_mat(rng, m, k);
      QuantActs want, plain_want;
      Mat fwant(m, k);
      {
        ThreadsScope one(1);
        transform_quantize_acts(x, t, 4, 0.9f, want);
        quantize_acts(x, 8, 1.f, plain_want);
        apply_act_transform(x, t, fwant);
      }
      // Independent check of the one-thread transform (fp32 path): the fused quantization equals quantizing
      // the separately transformed rows, row by row (per-token quantizer).
      if (!integer) {
        QuantActs sep;
        quantize_acts(fwant, 4, 0.9f, sep);
        test::expect_same(want, sep, "fused vs separate, m " + std::to_string(m));
      }
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        for (int tc : kThreadCounts) {
          ThreadsScope threads(tc);
          const std::string what = std::string(isa_name(isa)) + " m " + std::to_string(m) +
                                   (integer ? " int16" : " fp32") + " threads " + std::to_string(tc);
          QuantActs q, p;
          transform_quantize_acts(x, t, 4, 0.9f, q);
          test::expect_same(q, want, what);
          quantize_acts(x, 8, 1.f, p);
          test::expect_same(p, plain_want, what + " (plain)");
          Mat f(m, k);
          apply_act_transform(x, t, f);
          expect_bits(f, fwant, what + " (transform only)");
          if (HasFatalFailure()) return;
        }
      }
    }
}

TEST(ThreadsKernels, RowOpsSameBitsAtEveryThreadCount) {
  Rng rng(74);
  const int64_t T = 97, D = 704;  // T·D above the row ops' serial threshold (2^16)
  const Mat x = random_mat(rng, T, D), up = random_mat(rng, T, D);
  std::vector<float> w(D);
  for (float& v : w) v = static_cast<float>(0.5 + rng.uniform());
  const RopeTable table(256, 64, 10000.f);
  auto run = [&](Mat& norm, Mat& act, Mat& roped, Mat& soft, Mat& sum) {
    norm = Mat(T, D);
    rmsnorm(x, w, 1e-5f, norm);
    act = Mat(T, D);
    swiglu(x, up, act);
    roped = Mat(x);
    rope(roped, 11, 3, table, false);
    soft = Mat(x);
    softmax_rows(soft, 10, true, 0.3f);
    sum = Mat(x);
    add_rows(sum, up);
  };
  Mat n1, a1, r1, s1, p1;
  {
    ThreadsScope one(1);
    run(n1, a1, r1, s1, p1);
  }
  // Independent spot checks of the one-thread results.
  for (int64_t t : {0, 50, 96}) {
    double ss = 0;
    for (int64_t j = 0; j < D; ++j) ss += double(x(t, j)) * x(t, j);
    EXPECT_NEAR(n1(t, 7), x(t, 7) / std::sqrt(ss / D + 1e-5) * w[7], 1e-5 * std::fabs(n1(t, 7)) + 1e-6);
    const double g = x(t, 9);
    EXPECT_NEAR(a1(t, 9), g / (1 + std::exp(-g)) * up(t, 9), 1e-5 * std::fabs(a1(t, 9)) + 1e-6);
    EXPECT_EQ(p1(t, 11), x(t, 11) + up(t, 11));
    double srow = 0;
    for (int64_t j = 0; j < D; ++j) srow += s1(t, j);
    EXPECT_NEAR(srow, 1.0, 1e-5);
    EXPECT_EQ(s1(t, 10 + t), 0.f);  // masked: row t has 10 + t valid entries
  }
  for (int tc : kThreadCounts) {
    ThreadsScope threads(tc);
    Mat n, a, r, s, p;
    run(n, a, r, s, p);
    const std::string what = "threads " + std::to_string(tc);
    expect_bits(n, n1, what + " rmsnorm");
    expect_bits(a, a1, what + " swiglu");
    expect_bits(r, r1, what + " rope");
    expect_bits(s, s1, what + " softmax_rows");
    expect_bits(p, p1, what + " add_rows");
  }
}

}  // namespace
}  // namespace duq::kernels
