// --wide-channels in the kernels: the split quantizer gives the non-wide columns exactly the codes and grid
// of quantizing those columns alone (and the wide ones those of quantizing them alone at 8 bits), and the
// mixed GEMM equals the double-precision sum of the two dequantized products.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/act_quant.h"
#include "kernels/int_gemm.h"

namespace duq::kernels {
namespace {

using duq::test::random_mat;

Mat gather(ConstMatView x, const std::vector<int32_t>& cols) {
  Mat g(x.rows, static_cast<int64_t>(cols.size()));
  for (int64_t m = 0; m < x.rows; ++m)
    for (size_t i = 0; i < cols.size(); ++i) g(m, static_cast<int64_t>(i)) = x(m, cols[i]);
  return g;
}

std::vector<int32_t> complement(const std::vector<int32_t>& wide, int64_t k) {
  std::vector<int32_t> rest;
  for (int32_t j = 0; j < k; ++j)
    if (!std::binary_search(wide.begin(), wide.end(), j)) rest.push_back(j);
  return rest;
}

TEST(WideChannels, SplitEqualsQuantizingEachPartAlone) {
  Rng rng(7);
  const int64_t M = 9, K = 100;
  Mat x = random_mat(rng, M, K, 1.f, /*outliers=*/false);
  // Wide channels with the largest values, including column 0 (the placeholder is then column 1) and the last.
  const std::vector<int32_t> wide{0, 13, 14, 50, 99};
  for (int64_t m = 0; m < M; ++m)
    for (int32_t j : wide) x(m, j) *= 40.f;
  for (int bits : {4, 8}) {
    QuantActs narrow, wq;
    quantize_acts_split(x, wide.data(), static_cast<int64_t>(wide.size()), bits, 0.9f, narrow, wq);
    const std::vector<int32_t> rest = complement(wide, K);
    QuantActs alone, wide_alone;
    quantize_acts(gather(x, rest), bits, 0.9f, alone);
    quantize_acts(gather(x, wide), kWideBits, 1.f, wide_alone);
    ASSERT_EQ(narrow.cols, K);
    ASSERT_EQ(wq.cols, static_cast<int64_t>(wide.size()));
    EXPECT_EQ(wq.bits, kWideBits);
    for (int64_t m = 0; m < M; ++m) {
      EXPECT_EQ(narrow.scale[m], alone.scale[m]) << m;
      EXPECT_EQ(narrow.zero[m], alone.zero[m]) << m;
      for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(narrow.row(m)[rest[i]], alone.row(m)[i]) << m << ", " << i;
      EXPECT_EQ(wq.scale[m], wide_alone.scale[m]);
      EXPECT_EQ(wq.zero[m], wide_alone.zero[m]);
      for (size_t i = 0; i < wide.size(); ++i) EXPECT_EQ(wq.row(m)[i], wide_alone.row(m)[i]);
      // The split is what makes this worth it: the narrow grid is far finer than the whole row's.
      QuantActs whole;
      quantize_acts(ConstMatView(x).rows_slice(m, 1), bits, 0.9f, whole);
      EXPECT_LT(narrow.scale[m], 0.2f * whole.scale[0]);
    }
  }
}

TEST(WideChannels, RefusesAnEmptyOrFullWideList) {
  Rng rng(8);
  Mat x = random_mat(rng, 2, 8);
  QuantActs a, b;
  const std::vector<int32_t> all{0, 1, 2, 3, 4, 5, 6, 7};
  // A programming error (the file reader refuses such lists first): an internal check, not a wrong answer.
  EXPECT_DEATH(quantize_acts_split(x, all.data(), 0, 4, 1.f, a, b), "quantize_acts_split");
  EXPECT_DEATH(quantize_acts_split(x, all.data(), 8, 4, 1.f, a, b), "quantize_acts_split");
}

TEST(WideChannels, MixedGemmIsTheSumOfBothProducts) {
  Rng rng(9);
  const int64_t K = 96, N = 40;
  const std::vector<int32_t> wide{5, 6, 70};
  for (int64_t M : {1, 7}) {
    Mat x = random_mat(rng, M, K), w = random_mat(rng, N, K), ww = random_mat(rng, N, 3);
    for (int32_t j : wide)
      for (int64_t n = 0; n < N; ++n) w(n, j) = 0.f;  // the low-bit weights hold 0 in the wide columns
    const PackedWeights pw = quantize_pack_weights(w, 4), pww = quantize_pack_weights(ww, kWideBits);
    QuantActs xn, xw;
    quantize_acts_split(x, wide.data(), 3, 4, 1.f, xn, xw);
    Mat y(M, N), scratch;
    int_gemm_wide(xn, pw, xw, pww, y, scratch);
    const Mat xnh = dequantize_acts(xn), xwh = dequantize_acts(xw), wh = dequantize_weights(pw),
              wwh = dequantize_weights(pww);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          ref += double(xnh(m, k)) * wh(n, k);  // wh(n, wide) == 0: the placeholder codes add nothing
          mag += std::abs(double(xnh(m, k)) * wh(n, k));
        }
        for (int64_t i = 0; i < 3; ++i) {
          ref += double(xwh(m, i)) * wwh(n, i);
          mag += std::abs(double(xwh(m, i)) * wwh(n, i));
        }
        EXPECT_NEAR(y(m, n), ref, 1e-5 * mag + 1e-6) << m << ", " << n;
      }
  }
}

}  // namespace
}  // namespace duq::kernels
