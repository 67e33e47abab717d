// Hadamard transforms: orthogonality, ±1/√n entries, fast transform = explicit product.
#include "transform/hadamard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "test_mats.h"
#include "transform/paley.h"

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
    ASSERT_EQ(h.rows(), n);
    expect_hadamard(to_float(h), 1e-6);
  }
  EXPECT_EQ(paley_hadamard(16).rows(), 0);  // 15 is not prime
  EXPECT_EQ(paley_hadamard(14).rows(), 0);  // 13 ≡ 1 mod 4
}

// Paley I over prime fields and GF(27), GF(343); Paley II over GF(13), GF(17), GF(25), GF(29), GF(37), GF(53).
TEST(Hadamard, PaleyOneAndTwoOverPrimePowers) {
  for (int64_t n : {12, 20, 28, 36, 44, 52, 60, 108, 140, 344}) {
    const MatD h = hadamard_of_order(n);
    ASSERT_EQ(h.rows(), n) << n;
    expect_hadamard(to_float(h), 1e-5);
  }
  for (int64_t n : {28, 36, 52, 60, 76, 108}) {  // Paley II orders (q = 13, 17, 25, 29, 37, 53)
    const MatD h = paley2_pm1(n);
    ASSERT_EQ(h.rows(), n) << n;
    for (double v : h.flat()) ASSERT_EQ(std::fabs(v), 1.0);
    const MatD hht = matmul(h, [&] {
      MatD t(n, n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) t(j, i) = h(i, j);
      return t;
    }());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) ASSERT_EQ(hht(i, j), i == j ? double(n) : 0.0) << n << " " << i << " " << j;
  }
  EXPECT_EQ(paley1_pm1(28).rows(), 28);         // GF(27) = GF(3)[x]/f, degree 3
  EXPECT_EQ(paley1_pm1(344).rows(), 344);       // GF(343)
  EXPECT_EQ(hadamard_of_order(172).rows(), 0);  // Williamson-type only: not generated
  EXPECT_EQ(hadamard_of_order(22).rows(), 0);   // not a multiple of 4
}

// Every LLaMA width is H_m ⊗ H_p with the smallest reachable m: A is a Hadamard matrix (±1/√m, A·Aᵀ = I), and
// the rows of H that apply_rows produces are exactly A[i/p][j/p]·(−1)^popcount((i%p)&(j%p))/√p, computed
// here independently, so H·Hᵀ = I (n·I unnormalised). Sampled rows (segment edges and random) are also
// checked pairwise orthonormal.
TEST(Hadamard, ExactAtEveryLlamaWidth) {
  const std::vector<std::pair<int64_t, int64_t>> widths = {{4096, 1},    {5120, 20},   {5632, 44},  {8192, 1},
                                                           {11008, 344}, {13824, 108}, {14336, 28}, {28672, 28}};
  for (auto [n, m] : widths) {
    const Hadamard had(n, 3);
    ASSERT_TRUE(had.exact()) << n;
    ASSERT_EQ(had.factor_order(), m) << n;
    const int64_t p = n / m;
    if (m > 1) expect_hadamard(had.factor(), 1e-5);
    Rng rng(n);
    std::vector<int64_t> idx = {0, 1, p - 1, std::min(p, n - 2), n / 2, n - 1};
    for (int k = 0; k < 26; ++k) idx.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(n))));
    Mat rows(static_cast<int64_t>(idx.size()), n);
    for (size_t r = 0; r < idx.size(); ++r) rows(static_cast<int64_t>(r), idx[r]) = 1.f;
    had.apply_rows(rows);
    const double inv_sqrt_p = 1.0 / std::sqrt(static_cast<double>(p));
    for (size_t r = 0; r < idx.size(); ++r) {
      const int64_t i = idx[r];
      for (int64_t j = 0; j < n; ++j) {
        const double a = m > 1 ? had.factor()(i / p, j / p) : 1.0;
        const double hp = (std::popcount(static_cast<uint64_t>((i % p) & (j % p))) & 1) ? -inv_sqrt_p : inv_sqrt_p;
        ASSERT_NEAR(rows(static_cast<int64_t>(r), j), a * hp, 1e-5 / std::sqrt(static_cast<double>(n)))
            << n << " " << i << " " << j;
      }
    }
    for (size_t r = 0; r < idx.size(); ++r)
      for (size_t s = 0; s < idx.size(); ++s) {
        double dot = 0;
        for (int64_t j = 0; j < n; ++j)
          dot += double(rows(static_cast<int64_t>(r), j)) * rows(static_cast<int64_t>(s), j);
        EXPECT_NEAR(dot, idx[r] == idx[s] ? 1.0 : 0.0, 1e-5) << n;
      }
  }
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
  EXPECT_TRUE(Hadamard(24).exact());    // 12 ⊗ H_2
  EXPECT_TRUE(Hadamard(40).exact());    // 20 ⊗ H_2
  EXPECT_FALSE(Hadamard(172).exact());  // 43·4: the first generated order, 344 (GF(7³)), needs 43·8
  EXPECT_TRUE(Hadamard(100).exact());   // Paley II over GF(49): 100 = 2·(49 + 1)
  EXPECT_THROW(fwht_rows(Mat(2, 12)), Error);
}

// QuaRot's Q = diag(s)·H: row i of the matrix is s_i times row i of H (signs before the mixing).
TEST(Hadamard, RandomizedIsSignsTimesH) {
  const RandomizedHadamard rh(64, 17);
  const Mat g = rh.matrix();
  const Mat h = to_float(sylvester_hadamard(64));
  int plus = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const float s = rh.signs()[static_cast<size_t>(i)];
    ASSERT_TRUE(s == 1.f || s == -1.f);
    plus += s > 0;
    for (int64_t j = 0; j < 64; ++j) ASSERT_NEAR(g(i, j), s * h(i, j), 1e-6);
  }
  EXPECT_GT(plus, 10);
  EXPECT_LT(plus, 54);
  EXPECT_LT(orthogonality_error(g), 1e-6);
  EXPECT_NE(RandomizedHadamard(64, 18).signs(), rh.signs());
}

// On a near-constant 128-wide row, x·H puts the whole norm on one output (max = ‖x‖ = 11.3·RMS); with the
// signs first the outputs are ±1 sums ~ N(0, RMS²), max ≈ √(2 ln 128) = 3.1·RMS; 4.5 is ~3.6σ of that
// maximum's spread. Different seeds give different |x·G| (signs after H would only flip outputs' signs).
TEST(Hadamard, RandomizedSpreadsConstantRowsAndSeedMatters) {
  const int64_t n = 128;
  Mat x(1, n);
  for (int64_t j = 0; j < n; ++j) x(0, j) = 1.f + 0.001f * static_cast<float>(j) / n;
  double rms = 0;
  for (int64_t j = 0; j < n; ++j) rms += double(x(0, j)) * x(0, j);
  rms = std::sqrt(rms / n);
  std::vector<Mat> ys;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Mat y = x;
    RandomizedHadamard(n, seed).apply_rows(y);
    EXPECT_LT(max_abs(y), 4.5 * rms) << "seed " << seed;
    ys.push_back(std::move(y));
  }
  for (size_t a = 1; a < ys.size(); ++a) {
    double diff = 0;
    for (int64_t j = 0; j < n; ++j)
      diff = std::max(diff, double(std::fabs(std::fabs(ys[a](0, j)) - std::fabs(ys[0](0, j)))));
    EXPECT_GT(diff, 0.5 * rms) << "seeds 1 and " << a + 1 << " give the same |x·G|";
  }
}

}  // namespace
}  // namespace duq::transform
