// GPTQ: the dense linear algebra it rests on, the invariant that it equals RTN when H is a multiple of I,
// lower output error than RTN on correlated inputs, and every granularity (per-OC, grouped, per-IC).
#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/rng.h"
#include "quant/gptq_linalg.h"
#include "test_support.h"

namespace duq::quant {
namespace {

// x [N×D] with strongly correlated columns: x = z·M for a random mixing M plus a little noise.
Mat correlated_inputs(int64_t n, int64_t d, uint64_t seed) {
  Mat z = test::random_normal_mat(n, d / 4, seed), mix = test::random_normal_mat(d / 4, d, seed + 1), x(n, d);
  Rng rng(seed + 2);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < d; ++j) {
      double s = 0.05 * rng.normal();
      for (int64_t k = 0; k < d / 4; ++k) s += double(z(t, k)) * mix(k, j);
      x(t, j) = static_cast<float>(s);
    }
  return x;
}

double output_error(ConstMatView x, ConstMatView w, const QuantizedMat& q) {
  Mat wh(w.rows, w.cols);
  dequantize(q, wh);
  double s = 0;
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t o = 0; o < w.rows; ++o) {
      double d = 0;
      for (int64_t j = 0; j < w.cols; ++j) d += double(x(t, j)) * (double(w(o, j)) - wh(o, j));
      s += d * d;
    }
  return std::sqrt(s);
}

TEST(GptqLinalg, GemmSubMatchesNaive) {
  for (auto [m, n, k] : {std::tuple{7, 45, 13}, std::tuple{64, 300, 257}, std::tuple{5, 3, 600}}) {
    Mat a = test::random_normal_mat(m, k, 1), b = test::random_normal_mat(k, n, 2),
        c = test::random_normal_mat(m, n, 3), ref(c);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += double(a(i, p)) * b(p, j);
        ref(i, j) = static_cast<float>(ref(i, j) - s);
      }
    gemm_sub(m, n, k, a.data(), k, b.data(), n, c.data(), n);
    for (int64_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c.data()[i], ref.data()[i], 1e-3) << m << "x" << n << "x" << k;
  }
}

TEST(GptqLinalg, InverseUpperCholesky) {
  for (int64_t n : {1, 5, 64, 97, 300}) {
    Mat a = test::random_normal_mat(n + 10, n, 7 + n);
    std::vector<double> h(static_cast<size_t>(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = i == j ? 0.5 : 0.0;
        for (int64_t t = 0; t < a.rows(); ++t) s += double(a(t, i)) * a(t, j);
        h[static_cast<size_t>(i * n + j)] = s;
      }
    std::vector<double> u;
    ASSERT_TRUE(inverse_upper_cholesky(h, n, u));
    // Upper triangular, positive diagonal, and (UᵀU)·H = I.
    double max_err = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_GT(u[static_cast<size_t>(i * n + i)], 0);
      for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[static_cast<size_t>(i * n + j)], 0.0);
    }
    std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p <= std::min(i, j); ++p)
          s += u[static_cast<size_t>(p * n + i)] * u[static_cast<size_t>(p * n + j)];
        hinv[static_cast<size_t>(i * n + j)] = s;
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < n; ++p) s += hinv[static_cast<size_t>(i * n + p)] * h[static_cast<size_t>(p * n + j)];
        max_err = std::max(max_err, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(max_err, 1e-8) << "n = " << n;
  }
  std::vector<double> not_pd = {1, 2, 2, 1}, u;
  EXPECT_FALSE(inverse_upper_cholesky(not_pd, 2, u));
}

TEST(Hessian, AccumulatesTwoXtXOverRows) {
  Mat x = test::random_normal_mat(300, 6, 11);
  Hessian h(6);
  h.add(x.view().rows_slice(0, 100));
  h.add(x.view().rows_slice(100, 200));
  EXPECT_EQ(h.rows(), 300);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j) {
      double s = 0;
      for (int64_t t = 0; t < 300; ++t) s += double(x(t, i)) * x(t, j);
      EXPECT_NEAR(h(i, j), 2 * s / 300, 1e-5);
    }
  // ½ tr(ΔHΔᵀ) = mean over rows of ‖x·Δᵀ‖².
  Mat w = test::random_normal_mat(3, 6, 12), wh = test::random_normal_mat(3, 6, 13);
  double direct = 0;
  for (int64_t t = 0; t < 300; ++t)
    for (int64_t o = 0; o < 3; ++o) {
      double d = 0;
      for (int64_t j = 0; j < 6; ++j) d += double(x(t, j)) * (double(w(o, j)) - wh(o, j));
      direct += d * d;
    }
  EXPECT_NEAR(h.output_error(w, wh), direct / 300, 1e-6 * direct);
}

// H a multiple of I: no error is fed forward, GPTQ is RTN code for code, at every granularity.
TEST(Gptq, EqualsRtnWhenHessianIsScaledIdentity) {
  const int64_t O = 37, D = 70;
  Mat w = test::random_normal_mat(O, D, 21);
  Mat x(D, D);
  for (int64_t j = 0; j < D; ++j) x(j, j) = 3.f;
  Hessian h(D);
  h.add(x);
  for (Axis axis : {Axis::kRow, Axis::kColumn})
    for (int64_t g : {0, 16})
      for (bool act_order : {false, true}) {
        QuantSpec s;
        s.bits = 3;
        s.clip = 0.9f;
        s.axis = axis;
        s.group_size = g;
        GptqOptions o;
        o.block = 32;
        o.act_order = act_order;
        QuantizedMat a = gptq_quantize(w, h, s, o), b = quantize(w, s);
        EXPECT_EQ(a.codes, b.codes) << "axis " << int(axis) << " g " << g << " act_order " << act_order;
        ASSERT_EQ(a.params.size(), b.params.size());
        for (size_t i = 0; i < a.params.size(); ++i) {
          EXPECT_EQ(a.params[i].scale, b.params[i].scale);
          EXPECT_EQ(a.params[i].zero, b.params[i].zero);
        }
      }
}

TEST(Gptq, LowerOutputErrorThanRtnOnCorrelatedInputs) {
  const int64_t O = 48, D = 96, N = 512;
  Mat x = correlated_inputs(N, D, 31), w = test::random_normal_mat(O, D, 32);
  Hessian h(D);
  h.add(x);
  for (Axis axis : {Axis::kRow, Axis::kColumn})
    for (int64_t g : {0, 32})
      for (bool act_order : {false, true}) {
        QuantSpec s;
        s.bits = 4;
        s.axis = axis;
        s.group_size = g;
        GptqOptions o;
        o.block = 40;  // not a divisor of D: a partial last block
        o.act_order = act_order;
        const double e_gptq = output_error(x, w, gptq_quantize(w, h, s, o));
        const double e_rtn = output_error(x, w, quantize(w, s));
        std::printf("axis %s g %2ld act_order %d: ‖XWᵀ − XŴᵀ‖ RTN %.3f GPTQ %.3f\n", axis == Axis::kRow ? "OC" : "IC",
                    static_cast<long>(g), int(act_order), e_rtn, e_gptq);
        EXPECT_LT(e_gptq, 0.8 * e_rtn);
      }
}

TEST(Gptq, DeadColumnsAreZeroAndCodesMatchGrids) {
  const int64_t O = 8, D = 12;
  Mat x = test::random_normal_mat(64, D, 41), w = test::random_normal_mat(O, D, 42);
  for (int64_t t = 0; t < x.rows(); ++t) x(t, 5) = 0.f;  // input channel 5 never active
  Hessian h(D);
  h.add(x);
  QuantSpec s;
  s.bits = 4;
  QuantizedMat q = gptq_quantize(w, h, s);
  Mat wh(O, D);
  dequantize(q, wh);
  for (int64_t r = 0; r < O; ++r) EXPECT_NEAR(wh(r, 5), 0.f, q.params[static_cast<size_t>(r)].scale * 0.5f + 1e-6f);
  for (uint8_t c : q.codes) EXPECT_LE(c, 15);
}

// --wide-channels: with the wide channels' rows and columns dropped from H and their weight columns zeroed,
// GPTQ solves the problem of the other channels alone: the same codes as GPTQ on the matrix without those
// columns and the restricted Hessian (no damping, so the dropped diagonal does not move λ), and code = zero
// point in the dropped columns.
TEST(Gptq, DroppedChannelsSolveTheRestrictedProblem) {
  const int64_t O = 16, D = 48, N = 256;
  const std::vector<int32_t> wide{3, 17, 40};
  Mat x = correlated_inputs(N, D, 51), w = test::random_normal_mat(O, D, 52);
  for (int32_t c : wide)
    for (int64_t r = 0; r < O; ++r) w(r, c) = 0.f;
  Hessian h(D);
  h.add(x);
  Mat x_rest(N, D - 3), w_rest(O, D - 3);
  for (int64_t j = 0, k = 0; j < D; ++j) {
    if (std::find(wide.begin(), wide.end(), static_cast<int32_t>(j)) != wide.end()) continue;
    for (int64_t t = 0; t < N; ++t) x_rest(t, k) = x(t, j);
    for (int64_t r = 0; r < O; ++r) w_rest(r, k) = w(r, j);
    ++k;
  }
  Hessian h_rest(D - 3);
  h_rest.add(x_rest);
  h.drop_channels(wide);
  QuantSpec s;
  s.bits = 4;
  GptqOptions o;
  o.damp = 0;
  o.block = 16;
  const QuantizedMat q = gptq_quantize(w, h, s, o), q_rest = gptq_quantize(w_rest, h_rest, s, o);
  int64_t differ = 0;
  for (int64_t r = 0; r < O; ++r) {
    for (int32_t c : wide) EXPECT_EQ(q.code(r, c), q.params[static_cast<size_t>(r)].zero) << r << ", " << c;
    for (int64_t j = 0, k = 0; j < D; ++j) {
      if (std::find(wide.begin(), wide.end(), static_cast<int32_t>(j)) != wide.end()) continue;
      differ += q.code(r, j) != q_rest.code(r, k);
      ++k;
    }
  }
  // The two Hessians are accumulated in different orders (D vs D − 3 columns): a rounding tie may fall the
  // other way in a rare code, nothing more.
  EXPECT_LE(differ, O * (D - 3) / 100) << differ << " of " << O * (D - 3) << " codes differ";
}

TEST(Gptq, RejectsMismatchedHessian) {
  Hessian h(5);
  h.add(test::random_normal_mat(10, 5, 1));
  QuantSpec s;
  EXPECT_THROW(gptq_quantize(test::random_normal_mat(3, 6, 2), h, s), Error);
  Hessian empty(6);
  EXPECT_THROW(gptq_quantize(test::random_normal_mat(3, 6, 2), empty, s), Error);
}

}  // namespace
}  // namespace duq::quant

namespace duq::quant {
namespace {

// merge(H(rows a), H(rows b)) is H(rows a ∪ b): AdaDim+GPTQ's cross-validation folds rebuild the full H so.
TEST(Hessian, MergeOfTwoHalvesEqualsAllRows) {
  const Mat x = test::random_normal_mat(90, 12, 21);
  Hessian all(12), a(12), b(12);
  all.add(x);
  a.add(ConstMatView(x.data(), 40, 12));
  b.add(ConstMatView(x.row(40), 50, 12));
  a.merge(b);
  EXPECT_EQ(a.rows(), 90);
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 12; ++j)
      EXPECT_NEAR(a(i, j), all(i, j), 1e-6 * (1 + std::fabs(all(i, j))));  // float Gram chunks
}

}  // namespace
}  // namespace duq::quant
