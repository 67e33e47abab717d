// nn_ops against independent formulas: exp_approx's stated error bound against std::exp in double over its whole
// range, RoPE against the rotation written as a complex product in double, RMSNorm and softmax against their
// textbook double formulas.
#include "kernels/nn_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "test_support.h"

namespace duq::kernels {
namespace {

// nn_ops.h: "relative error < 2e-7 for x in [−87, 88]". Every float in steps of 2^-10 over the range (≈180k
// points, hitting both ends and every reduction interval n) plus the clamped values outside it.
TEST(NnOps, ExpApproxWithinItsStatedBoundOverTheWholeRange) {
  double worst = 0.0, at = 0.0;
  for (double x = -87.0; x <= 88.0; x += 1.0 / 1024) {
    const double want = std::exp(static_cast<double>(static_cast<float>(x)));
    const double rel = std::abs(static_cast<double>(exp_approx(static_cast<float>(x))) - want) / want;
    if (rel > worst) worst = rel, at = x;
  }
  EXPECT_LT(worst, 2e-7) << "at x = " << at;
  // Outside the range it clamps (no inf, no denormal garbage): e^−87 and e^88.
  EXPECT_EQ(exp_approx(-1000.f), exp_approx(-87.f));
  EXPECT_EQ(exp_approx(1000.f), exp_approx(88.f));
  EXPECT_TRUE(std::isfinite(exp_approx(1000.f)));
  EXPECT_EQ(exp_approx(0.f), 1.f);
}

// RoPE: pair (a, b) of head h at position p is the complex number a + ib multiplied by e^{i·p·θ^(−2i/hd)}.
// Interleaved pairs (2i, 2i+1) (llama2.c) and rotate-half pairs (i, i + hd/2) (Hugging Face).
TEST(NnOps, RopeEqualsComplexRotationInDouble) {
  const int heads = 3, hd = 16, pos0 = 5, T = 7;
  const float theta = 10000.f;
  const RopeTable table(64, hd, theta);
  for (bool interleaved : {true, false}) {
    const Mat x0 = test::random_normal_mat(T, heads * hd, 3);
    Mat x = x0;
    rope(x.view(), heads, pos0, table, interleaved);
    double worst = 0.0;
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < hd / 2; ++i) {
          const int a = h * hd + (interleaved ? 2 * i : i), b = h * hd + (interleaved ? 2 * i + 1 : i + hd / 2);
          const double angle = (pos0 + t) * std::pow(static_cast<double>(theta), -2.0 * i / hd);
          const std::complex<double> z = std::complex<double>(x0(t, a), x0(t, b)) * std::polar(1.0, angle);
          worst = std::max({worst, std::abs(z.real() - x(t, a)), std::abs(z.imag() - x(t, b))});
        }
    EXPECT_LT(worst, 1e-5) << (interleaved ? "interleaved" : "rotate-half");  // |x| ≲ 4: a few float ulps
  }
}

TEST(NnOps, RmsnormAndSoftmaxMatchDoubleFormulas) {
  const int64_t T = 4, D = 37;
  const Mat x = test::random_normal_mat(T, D, 8, 2.0);
  const Mat w = test::random_normal_mat(1, D, 9);
  Mat y(T, D);
  rmsnorm(x.view(), {w.data(), static_cast<size_t>(D)}, 1e-5f, y.view());
  for (int64_t t = 0; t < T; ++t) {
    double ms = 0.0;
    for (int64_t j = 0; j < D; ++j) ms += static_cast<double>(x(t, j)) * x(t, j);
    const double inv = 1.0 / std::sqrt(ms / D + 1e-5);
    for (int64_t j = 0; j < D; ++j) EXPECT_NEAR(y(t, j), x(t, j) * inv * w(0, j), 1e-5) << t << "," << j;
  }
  Mat s = x;
  softmax_rows(s.view(), 2, /*causal_offset=*/true, 0.5f);  // row t: the first 2 + t entries
  for (int64_t t = 0; t < T; ++t) {
    const int64_t n = 2 + t;
    double mx = -1e30, sum = 0.0;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, 0.5 * x(t, j));
    for (int64_t j = 0; j < n; ++j) sum += std::exp(0.5 * x(t, j) - mx);
    for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(s(t, j), std::exp(0.5 * x(t, j) - mx) / sum, 1e-6);
    for (int64_t j = n; j < D; ++j) EXPECT_EQ(s(t, j), 0.f);
  }
}

}  // namespace
}  // namespace duq::kernels
