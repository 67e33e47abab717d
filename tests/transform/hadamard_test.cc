// Hadamard transforms: orthogonality, ±1/√n entries, fast transform = explicit product.
#include "transform/hadamard.h"

#include <gtest/gtest.h>

#include "test_mats.h"

namespace duq::transform {
namespace {

using namespace duq::transform::test;

// A true normalised Hadamard matrix: every entry ±1/√n and H·Hᵀ = I.
void expect_hadamard(ConstMatView h, double tol) {
  const double v = 1.0 / std::sqrt(static_cast<double>(h.rows));
  for (int64_t i = 0; i < h.rows; ++i)
    for (int64_t j = 0; j < h.cols; ++j) ASSERT_NEAR(std::fabs(h(i, j)), v, 1e-6);
  EXPECT_LT(orthogonality_error(transpose(h)), tol);  // rows orthonormal: H·Hᵀ = I
  EXPECT_LT(orthogonality_error(h), tol);
}

TEST(Hadamard, SylvesterIsOrthogonalAndFastEqualsExplicit) {
  for (int64_t n : {1, 2, 4, 8, 64, 256}) {
    const Mat h = to_float(sylvester_hadamard(n));
    expect_hadamard(h, 1e-6);
    const Mat x = gaussian(5, n, 3 + n);
    Mat y = x;
    fwht_rows(y);
    EXPECT_LT(max_rel_diff(y, product(x, h)), 1e-5) << n;
  }
}

// Order 2 by hand: [[1, 1], [1, −1]]/√2, so [3, 1] ↦ [4, 2]/√2.
TEST(Hadamard, TwoPointByHand) {
  Mat x(1, 2);
  x(0, 0) = 3, x(0, 1) = 1;
  fwht_rows(x);
  EXPECT_NEAR(x(0, 0), 4 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(x(0, 1), 2 / std::sqrt(2.0), 1e-6);
}

TEST(Hadamard, PaleyOrders) {
  for (int64_t n : {12, 20, 24, 44, 48, 60}) {
    const MatD h = paley_hadamard(n);
    ASSERT_EQ(h.rows, n);
    expect_hadamard(to_float(h), 1e-6);
  }
  EXPECT_EQ(paley_hadamard(16).rows, 0);  // 15 is not prime
  EXPECT_EQ(paley_hadamard(14).rows, 0);  // 13 ≡ 1 mod 4
}

TEST(Hadamard, AnySizeIsOrthogonalAndLinear) {
  for (int64_t n : {24, 40, 96, 172, 100, 7}) {
    const Hadamard had(n, 5);
    const Mat h = had.matrix();
    EXPECT_LT(orthogonality_error(h), 1e-5) << n;
    if (had.exact()) expect_hadamard(h, 1e-5);
    const Mat x = gaussian(3, n, 9);
    Mat y = x;
    had.apply_rows(y);
    EXPECT_LT(max_rel_diff(y, product(x, h)), 1e-5) << n;
  }
  EXPECT_TRUE(Hadamard(24).exact());   // 12 ⊗ H_2
  EXPECT_TRUE(Hadamard(40).exact());   // 20 ⊗ H_2
  EXPECT_FALSE(Hadamard(172).exact()); // 43·2^j − 1 never a prime ≡ 3 mod 4
  EXPECT_THROW(fwht_rows(Mat(2, 12)), Error);
}

TEST(Hadamard, RandomizedIsHTimesSigns) {
  const RandomizedHadamard rh(64, 17);
  const Mat g = rh.matrix();
  const Mat h = to_float(sylvester_hadamard(64));
  int plus = 0;
  for (int64_t j = 0; j < 64; ++j) {
    const float s = rh.signs()[static_cast<size_t>(j)];
    ASSERT_TRUE(s == 1.f || s == -1.f);
    plus += s > 0;
    for (int64_t i = 0; i < 64; ++i) ASSERT_NEAR(g(i, j), h(i, j) * s, 1e-6);
  }
  EXPECT_GT(plus, 10);
  EXPECT_LT(plus, 54);
  EXPECT_LT(orthogonality_error(g), 1e-6);
  EXPECT_NE(RandomizedHadamard(64, 18).signs(), rh.signs());
}

}  // namespace
}  // namespace duq::transform
