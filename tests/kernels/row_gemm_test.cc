// matmul_xwt_rows (gemm_f32.h): every SIMD path equals the scalar reference bit for bit; the result is close
// to a double-precision product (independent golden); a row's bits do not depend on M, the other rows or the
// thread count (the property batched decoding relies on).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "core/threads.h"
#include "kernel_test_util.h"
#include "kernels/gemm_f32.h"

namespace duq {
namespace {

Mat product(ConstMatView x, ConstMatView w) {
  Mat y(x.rows, w.rows);
  kernels::matmul_xwt_rows(x, w, y);
  return y;
}

bool same_bits(const float* a, const float* b, int64_t n) { return std::memcmp(a, b, sizeof(float) * n) == 0; }

// Shapes around the 16-lane blocks and the micro-tiles (4×4 AVX-512; 2×3 AVX2, and 4×3 in two 8-lane passes for
// F16 W with ≥ 4 rows), tails included: K tails of 1, 4, 12 and 13 lanes (the second pass gets none or some).
struct Shape {
  int64_t m, n, k;
};
const Shape kShapes[] = {{1, 1, 1},     {1, 7, 15},    {3, 5, 16}, {5, 13, 17}, {16, 9, 33},
                         {17, 64, 100}, {2, 130, 256}, {4, 3, 12}, {6, 11, 45}};

TEST(RowGemm, SimdPathsEqualScalarReference) {
  Rng rng(7);
  for (const Shape& s : kShapes) {
    const Mat x = test::random_mat(rng, s.m, s.k), w = test::random_mat(rng, s.n, s.k, 0.1f);
    Mat ref;
    {
      test::IsaScope scalar(kernels::Isa::Scalar);
      ref = product(x, w);
    }
    for (auto isa : test::available_isas()) {
      test::IsaScope scope(isa);
      const Mat y = product(x, w);
      EXPECT_TRUE(same_bits(y.data(), ref.data(), y.size()))
          << kernels::isa_name(isa) << " m=" << s.m << " n=" << s.n << " k=" << s.k;
    }
  }
}

// W stored as F16 (the classifier of a quantized file) gives exactly the product on its f32 widening (widened
// here by core/half.h's scalar conversion), on every ISA path, with a row stride wider than K; subnormal and
// negative halves included.
TEST(RowGemm, HalfWeightsEqualTheProductOnTheirWidening) {
  Rng rng(9);
  for (const Shape& s : kShapes) {
    const Mat x = test::random_mat(rng, s.m, s.k);
    const Mat w = test::random_mat(rng, s.n, s.k, 0.1f);
    const int64_t ldw = s.k + 3;
    std::vector<uint16_t> wh(static_cast<size_t>(s.n * ldw), 0x7e00);  // NaN in the padding: must never be read
    Mat wide(s.n, s.k);
    for (int64_t c = 0; c < s.n; ++c)
      for (int64_t k = 0; k < s.k; ++k) {
        const float v = (c + k) % 11 == 0 ? 3e-6f * w(c, k) : w(c, k);  // every 11th a half subnormal
        wh[static_cast<size_t>(c * ldw + k)] = f32_to_f16(v);
        wide(c, k) = f16_to_f32(wh[static_cast<size_t>(c * ldw + k)]);
      }
    for (auto isa : test::available_isas()) {
      test::IsaScope scope(isa);
      const Mat ref = product(x, wide);
      Mat y(s.m, s.n);
      kernels::matmul_xwt_rows_f16(x, wh.data(), s.n, ldw, y);
      EXPECT_TRUE(same_bits(y.data(), ref.data(), y.size()))
          << kernels::isa_name(isa) << " m=" << s.m << " n=" << s.n << " k=" << s.k;
    }
  }
}

TEST(RowGemm, MatchesDoublePrecisionProduct) {
  Rng rng(8);
  for (auto isa : test::available_isas()) {
    test::IsaScope scope(isa);
    for (const Shape& s : kShapes) {
      const Mat x = test::random_mat(rng, s.m, s.k), w = test::random_mat(rng, s.n, s.k, 0.1f);
      const Mat y = product(x, w);
      for (int64_t r = 0; r < s.m; ++r)
        for (int64_t c = 0; c < s.n; ++c) {
          double dot = 0, mag = 0;
          for (int64_t k = 0; k < s.k; ++k) {
            dot += double(x(r, k)) * double(w(c, k));
            mag += std::fabs(double(x(r, k)) * double(w(c, k)));
          }
          // fp32 summation error bound: a few ulps of Σ|x·w| per level of the (≤ k/16 + 4)-deep sum
          ASSERT_NEAR(y(r, c), dot, 1e-6 * mag * double(s.k / 16 + 5)) << kernels::isa_name(isa);
        }
    }
  }
}

// Row r of a 16-row call, of the same row alone (M = 1) and among other rows, at 1 and 2 threads: same bits.
TEST(RowGemm, RowResultIndependentOfBatch) {
  Rng rng(9);
  const int64_t n = 300, k = 2048 + 5;
  const Mat w = test::random_mat(rng, n, k, 0.05f), x16 = test::random_mat(rng, 16, k),
            other = test::random_mat(rng, 16, k);
  for (auto isa : test::available_isas()) {
    test::IsaScope scope(isa);
    const Mat y16 = product(x16, w);
    for (int64_t r = 0; r < 16; ++r) {
      const Mat y1 = product(x16.view().rows_slice(r, 1), w);
      EXPECT_TRUE(same_bits(y1.data(), y16.row(r), n)) << kernels::isa_name(isa) << " row " << r << " alone";
      Mat mixed = other;  // row r at a different position among different rows
      std::memcpy(mixed.row(15 - r), x16.row(r), sizeof(float) * k);
      const Mat ym = product(mixed, w);
      EXPECT_TRUE(same_bits(ym.row(15 - r), y16.row(r), n)) << kernels::isa_name(isa) << " row " << r << " mixed";
    }
    const int saved = num_threads();
    set_threads(saved == 1 ? 2 : 1);
    const Mat yt = product(x16, w);
    set_threads(saved);
    EXPECT_TRUE(same_bits(yt.data(), y16.data(), y16.size())) << kernels::isa_name(isa) << " thread count";
  }
}

}  // namespace
}  // namespace duq
