// Integer GEMM across the cache-blocking boundaries of the SIMD paths: several K blocks (partial sums kept
// between blocks), a short last K block, row tiles with every tail size, panel groups of 1–3 panels, and a
// strided output view. Every ISA path must be bit-identical to the scalar reference.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kernel_test_util.h"
#include "kernels/int_gemm.h"

namespace duq::kernels {
namespace {

using test::available_isas;
using test::IsaScope;
using test::random_mat;

void gemm_into(const QuantActs& x, const PackedWeights& w, Isa isa, MatView y) {
  IsaScope scope(isa);
  int_gemm(x, w, y);
}

TEST(IntGemmBlocking, MultiBlockKAndAllTileTailsBitIdentical) {
  Rng rng(11);
  struct Case {
    int64_t m, n, k;
  };
  const Case cases[] = {{2, 48, 512},    {8, 49, 513},   {9, 96, 1024}, {15, 47, 1100},  {16, 130, 577},
                        {23, 64, 2100},  {31, 33, 1537}, {40, 16, 640}, {57, 144, 1200}, {5, 200, 4100},
                        {17, 100, 8200}, {9, 49, 5000},  {3, 35, 4097}};
  for (const int wb : {4, 8})
    for (const int ab : {4, 8})
      for (const Case& c : cases) {
        const Mat xf = random_mat(rng, c.m, c.k);
        const Mat wf = random_mat(rng, c.n, c.k, 0.05f);
        QuantActs x;
        quantize_acts(xf, ab, 0.9f, x);
        const PackedWeights w = quantize_pack_weights(wf, wb, 0.8f);
        Mat ref(c.m, c.n);
        gemm_into(x, w, Isa::Scalar, ref);
        for (Isa isa : available_isas()) {
          if (isa == Isa::Scalar) continue;
          // output as a strided view into a wider matrix: columns outside [1, 1 + n) must stay untouched
          Mat wide(c.m, c.n + 3);
          for (float& v : wide.flat()) v = -7.f;
          gemm_into(x, w, isa, MatView(wide.data() + 1, c.m, c.n, wide.cols()));
          const std::string what = std::string(isa_name(isa)) + " W" + std::to_string(wb) + "A" + std::to_string(ab) +
                                   " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) +
                                   " k=" + std::to_string(c.k);
          for (int64_t i = 0; i < c.m; ++i) {
            ASSERT_EQ(wide(i, 0), -7.f) << what;
            ASSERT_EQ(wide(i, c.n + 1), -7.f) << what;
            ASSERT_EQ(wide(i, c.n + 2), -7.f) << what;
            ASSERT_EQ(std::memcmp(wide.row(i) + 1, ref.row(i), sizeof(float) * static_cast<size_t>(c.n)), 0)
                << what << " row " << i;
          }
        }
      }
}

// The same activations against two weight matrices of different K in turn: the packed-activation buffer is
// reused across calls and must be rebuilt for each.
TEST(IntGemmBlocking, RepeatedCallsWithDifferentShapes) {
  Rng rng(12);
  for (Isa isa : available_isas())
    for (int rep = 0; rep < 2; ++rep)
      for (const int64_t k : {1000, 64, 3000}) {
        const int64_t m = 13 + rep, n = 50;
        QuantActs x;
        quantize_acts(random_mat(rng, m, k), 4, 1.f, x);
        const PackedWeights w = quantize_pack_weights(random_mat(rng, n, k, 0.05f), 4, 1.f);
        Mat ref(m, n), y(m, n);
        gemm_into(x, w, Isa::Scalar, ref);
        gemm_into(x, w, isa, y);
        for (int64_t i = 0; i < m; ++i)
          ASSERT_EQ(std::memcmp(y.row(i), ref.row(i), sizeof(float) * static_cast<size_t>(n)), 0)
              << isa_name(isa) << " k=" << k << " row " << i;
      }
}

}  // namespace
}  // namespace duq::kernels
