// Random orthogonal matrices and Base(n).
#include <gtest/gtest.h>

#include "test_mats.h"
#include "transform/orthogonal.h"

namespace duq::transform {
namespace {

using namespace duq::transform::test;

double orth_err(const MatD& q) {
  double worst = 0;
  for (int64_t i = 0; i < q.cols(); ++i)
    for (int64_t j = 0; j < q.cols(); ++j) {
      double s = 0;
      for (int64_t k = 0; k < q.rows(); ++k) s += q(k, i) * q(k, j);
      worst = std::max(worst, std::fabs(s - (i == j)));
    }
  return worst;
}

// Q is the sign-fixed QR factor of the Gaussian drawn row-major from the same seed:
// R = QᵀA must be upper triangular with a positive diagonal.
TEST(Orthogonal, RandomIsQOfSignFixedQR) {
  const int64_t n = 37;
  Rng rng(42), again(42);
  const MatD q = random_orthogonal(n, rng);
  EXPECT_LT(orth_err(q), 1e-12);
  MatD a(n, n);
  for (auto& v : a.flat()) v = again.normal();
  MatD qt(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) qt(i, j) = q(j, i);
  const MatD r = matmul(qt, a);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(r(i, i), 0.0);
    for (int64_t j = 0; j < i; ++j) ASSERT_NEAR(r(i, j), 0.0, 1e-10);
  }
}

TEST(Orthogonal, BaseFirstRowIsUniform) {
  for (int64_t n : {1, 2, 3, 5, 64, 128}) {
    const MatD b = base_rotation(n);
    EXPECT_LT(orth_err(b), 1e-12) << n;
    for (int64_t j = 0; j < n; ++j) ASSERT_NEAR(b(0, j), 1.0 / std::sqrt(static_cast<double>(n)), 1e-12);
  }
}

// Base(3) worked by hand: G₁·G₀ = [[a, −a, 0], [ca, ca, −s], [sa, sa, c]] with a = 1/√2,
// c = 1/√3, s = √(2/3); swapping rows and columns 0 and 2 gives the matrix below.
TEST(Orthogonal, BaseThreeByHand) {
  const MatD b = base_rotation(3);
  const double r3 = 1 / std::sqrt(3.0), r6 = 1 / std::sqrt(6.0), r2 = 1 / std::sqrt(2.0);
  const double want[3][3] = {{r3, r3, r3}, {-std::sqrt(2.0 / 3.0), r6, r6}, {0, -r2, r2}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(b(i, j), want[i][j], 1e-12) << i << "," << j;
  const MatD b2 = base_rotation(2);
  EXPECT_NEAR(b2(1, 0), -r2, 1e-12);
  EXPECT_NEAR(b2(1, 1), r2, 1e-12);
}

TEST(Orthogonal, RandomizedBaseKeepsFirstEntryAndOrthogonality) {
  Rng rng(1);
  const MatD b = randomized_base(16, rng);
  EXPECT_LT(orth_err(b), 1e-12);
  EXPECT_NEAR(b(0, 0), 0.25, 1e-12);
  EXPECT_NEAR(b(1, 0), base_rotation(16)(1, 0), 1e-12);  // column 0 untouched by blockdiag(1, Q')
}

}  // namespace
}  // namespace duq::transform
