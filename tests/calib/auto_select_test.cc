// duquant-auto's building blocks on small synthetic data with known answers (calib/auto_select.h): the per-row
// clip search against a brute-force evaluation through the reference quantizer, a one-point grid equal to
// plain quantization, GPTQ per row never worse than its start (and equal to RTN when H is diagonal), the
// candidate errors against an independent computation, smoothing chosen for channel outliers, and the Q/K clip.
#include "calib/auto_select.h"

#include <gtest/gtest.h>

#include <cmath>

#include "calib/options.h"
#include "core/rng.h"
#include "test_support.h"
#include "transform/smoothing.h"

namespace duq::calib {
namespace {

Mat random_mat(int64_t r, int64_t c, uint64_t seed, double scale = 1.0) {
  return test::random_normal_mat(r, c, seed, scale);
}

// num += ‖xq·wqᵀ − x·wᵀ‖², den += ‖x·wᵀ‖² (in double).
void add_output_error(const Mat& x, const Mat& w, const Mat& xq, const Mat& wq, double& num, double& den) {
  for (int64_t t = 0; t < x.rows(); ++t)
    for (int64_t o = 0; o < w.rows(); ++o) {
      double y = 0, yq = 0;
      for (int64_t k = 0; k < x.cols(); ++k) y += double(x(t, k)) * w(o, k), yq += double(xq(t, k)) * wq(o, k);
      num += (yq - y) * (yq - y);
      den += y * y;
    }
}

// x with every row scaled to unit norm, as auto_select weighs its tokens.
Mat unit_rows(const Mat& x) {
  Mat xn(x);
  for (int64_t t = 0; t < xn.rows(); ++t) {
    double n2 = 0;
    for (int64_t k = 0; k < xn.cols(); ++k) n2 += double(xn(t, k)) * xn(t, k);
    for (int64_t k = 0; k < xn.cols(); ++k) xn(t, k) = static_cast<float>(xn(t, k) / std::sqrt(n2));
  }
  return xn;
}

TEST(AutoSelect, RowClipSearchMatchesBruteForceThroughTheReferenceQuantizer) {
  Mat w = random_mat(12, 40, 1);
  for (int64_t i = 0; i < w.rows(); i += 3) w(i, 5) = 9.f;  // outliers that clipping may sacrifice
  std::vector<double> colw(40);
  Rng rng(2);
  for (auto& c : colw) c = 0.1 + rng.uniform();
  colw[5] = 0.01;  // the outlier column hardly matters for the output
  const std::vector<float> grid = {1.f, .9f, .8f, .7f, .6f};
  std::vector<float> chosen;
  const quant::QuantizedMat q = quantize_rows_best_clip(w, colw, 4, grid, &chosen);
  Mat deq(w.rows(), w.cols());
  quant::dequantize(q, deq);
  int clipped = 0;
  for (int64_t i = 0; i < w.rows(); ++i) {
    double best = 1e300;
    float best_c = 0;
    Mat best_row;
    for (float c : grid) {
      Mat row(1, w.cols());
      for (int64_t k = 0; k < w.cols(); ++k) row(0, k) = w(i, k);
      quant::QuantSpec s;
      s.bits = 4;
      s.clip = c;
      quant::fake_quant(row, s);
      double e = 0;
      for (int64_t k = 0; k < w.cols(); ++k)
        e += colw[static_cast<size_t>(k)] * std::pow(double(w(i, k)) - row(0, k), 2);
      if (e < best) best = e, best_c = c, best_row = row;
    }
    EXPECT_EQ(chosen[static_cast<size_t>(i)], best_c) << "row " << i;
    for (int64_t k = 0; k < w.cols(); ++k) EXPECT_EQ(deq(i, k), best_row(0, k)) << i << "," << k;
    clipped += best_c < 1.f;
  }
  EXPECT_GE(clipped, 4);  // at least the rows with the cheap outlier are clipped
}

TEST(AutoSelect, OnePointGridEqualsPlainQuantization) {
  const Mat w = random_mat(9, 33, 3);
  const std::vector<double> colw(33, 1.0);
  const std::vector<float> grid = {0.8f};
  const quant::QuantizedMat q = quantize_rows_best_clip(w, colw, 4, grid, nullptr);
  quant::QuantSpec s;
  s.bits = 4;
  s.clip = 0.8f;
  const quant::QuantizedMat ref = quant::quantize(w, s);
  EXPECT_EQ(q.codes, ref.codes);
  for (size_t i = 0; i < ref.params.size(); ++i) {
    EXPECT_EQ(q.params[i].scale, ref.params[i].scale);
    EXPECT_EQ(q.params[i].zero, ref.params[i].zero);
  }
}

TEST(AutoSelect, GptqRowsNeverWorseAndEqualToRtnForDiagonalHessian) {
  const Mat w = random_mat(10, 48, 4);
  // Correlated inputs: GPTQ should win on most rows.
  Mat z = random_mat(400, 12, 5), mix = random_mat(12, 48, 6), x(400, 48);
  for (int64_t t = 0; t < 400; ++t)
    for (int64_t j = 0; j < 48; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 12; ++k) s += double(z(t, k)) * mix(k, j);
      x(t, j) = static_cast<float>(s);
    }
  quant::Hessian h(48);
  h.add(x);
  const std::vector<double> colw(48, 1.0);
  const std::vector<float> grid = {1.f, .9f, .8f};
  std::vector<float> clips;
  quant::QuantizedMat q = quantize_rows_best_clip(w, colw, 3, grid, &clips);
  Mat before(10, 48), after(10, 48);
  quant::dequantize(q, before);
  const int rows = gptq_rows_best_clip(w, h, 3, grid, quant::GptqOptions{}, q, clips);
  quant::dequantize(q, after);
  EXPECT_GE(rows, 5);
  // Per row, Σ d·H·dᵀ never grows (rows are independent in H's quadratic form).
  for (int64_t r = 0; r < 10; ++r) {
    auto err = [&](const Mat& m) {
      double e = 0;
      for (int64_t i = 0; i < 48; ++i)
        for (int64_t j = 0; j < 48; ++j) e += (double(w(r, i)) - m(r, i)) * h(i, j) * (double(w(r, j)) - m(r, j));
      return e;
    };
    EXPECT_LE(err(after), err(before) * (1 + 1e-12)) << "row " << r;
  }
  // H = c·I: GPTQ's feedback vanishes and it equals round-to-nearest, which the start already is → no row taken.
  quant::Hessian hd(48);
  Mat eye(48, 48);
  for (int64_t i = 0; i < 48; ++i) eye(i, i) = 3.f;
  hd.add(eye);
  std::vector<float> clips2;
  quant::QuantizedMat q2 = quantize_rows_best_clip(w, colw, 3, grid, &clips2);
  EXPECT_EQ(gptq_rows_best_clip(w, hd, 3, grid, quant::GptqOptions{}, q2, clips2), 0);
}

TEST(AutoSelect, CandidateErrorsMatchAnIndependentComputationAndSmoothingWinsOnChannelOutliers) {
  Mat x = random_mat(256, 32, 7);
  for (int64_t t = 0; t < x.rows(); ++t) x(t, 3) *= 60.f;  // a channel outlier in every token
  const Mat w1 = random_mat(16, 32, 8, 0.2), w2 = random_mat(8, 32, 9, 0.2);
  const std::vector<const Mat*> ws = {&w1, &w2};
  std::vector<AutoCandidate> cands(2);
  cands[0].name = "none";
  cands[1].name = "smooth";
  std::vector<float> wmax(32, 0.f);
  for (const Mat* m : ws)
    for (int64_t i = 0; i < m->rows(); ++i)
      for (int64_t j = 0; j < 32; ++j)
        wmax[static_cast<size_t>(j)] = std::max(wmax[static_cast<size_t>(j)], std::fabs((*m)(i, j)));
  cands[1].st.smooth = transform::smoothing_factors(transform::column_abs_max(x), wmax, 0.5f);
  AutoGrid grid;
  grid.weight_clips = {1.f};
  grid.act_clips = {1.f};
  grid.gptq_clips = {};
  const AutoResult r = auto_select(x, ws, cands, 8, 4, grid);
  ASSERT_EQ(r.rel_error.size(), 2u);
  EXPECT_EQ(r.chosen, 1u);
  EXPECT_LT(r.rel_error[1], 0.5 * r.rel_error[0]);
  // Independent: rows normalised, Q_a per token (4 bits), Q_w per row (8 bits), relative Frobenius error.
  const Mat xn = unit_rows(x);
  Mat xq(xn);
  quant::QuantSpec as;
  as.bits = 4;
  quant::fake_quant(xq, as);
  double num = 0, den = 0;
  for (const Mat* m : ws) {
    Mat wq(*m);
    quant::QuantSpec s8;
    s8.bits = 8;
    quant::fake_quant(wq, s8);
    add_output_error(xn, *m, xq, wq, num, den);
  }
  EXPECT_NEAR(r.rel_error[0], std::sqrt(num / den), 1e-4 * std::sqrt(num / den));
  // Float activations: no activation clip is chosen.
  const AutoResult r16 = auto_select(x, ws, cands, 8, kNoQuant, AutoGrid{});
  EXPECT_EQ(r16.act_clip, 1.f);
}

// --wide-channels with duquant-auto: each candidate keeps its widest channels at 8 bits; the error is that of
// the split quantizer (the other channels at 4 bits over their own range, weights without the wide columns,
// the wide columns at 8 bits per row), computed here independently with the reference fake quantizer.
TEST(AutoSelect, WideChannelsAreTheOutlierChannelsAndTheErrorIsTheSplitQuantizers) {
  Mat x = random_mat(256, 32, 17);
  for (int64_t t = 0; t < x.rows(); ++t) x(t, 3) *= 60.f, x(t, 20) *= 25.f;
  const Mat w1 = random_mat(16, 32, 18, 0.2), w2 = random_mat(8, 32, 19, 0.2);
  const std::vector<const Mat*> ws = {&w1, &w2};
  std::vector<AutoCandidate> cands(1);
  cands[0].name = "none";
  AutoGrid grid;
  grid.weight_clips = {1.f};
  grid.act_clips = {1.f};
  grid.gptq_clips = {};
  const AutoResult plain = auto_select(x, ws, cands, 4, 4, grid);
  const AutoResult r = auto_select(x, ws, cands, 4, 4, grid, nullptr, /*wide_channels=*/2);
  ASSERT_EQ(r.wide.size(), 1u);
  EXPECT_EQ(r.wide[0], (std::vector<int32_t>{3, 20}));
  ASSERT_EQ(r.wide_codes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.wide_codes[i].rows, ws[i]->rows());
    EXPECT_EQ(r.wide_codes[i].cols, 2);
    EXPECT_EQ(r.wide_codes[i].spec.bits, 8);
    for (int64_t o = 0; o < r.codes[i].rows; ++o)
      for (int32_t j : {3, 20}) EXPECT_EQ(r.codes[i].code(o, j), r.codes[i].params[static_cast<size_t>(o)].zero);
  }
  EXPECT_LT(r.rel_error[0], 0.5 * plain.rel_error[0]);
  const Mat xn = unit_rows(x);
  // Activations: 30 narrow columns at 4 bits, the 2 wide ones at 8 bits, each part over its own range.
  Mat narrow(xn.rows(), 30), wide(xn.rows(), 2);
  for (int64_t t = 0; t < xn.rows(); ++t)
    for (int64_t k = 0, a = 0; k < 32; ++k)
      (k == 3 || k == 20) ? wide(t, k == 3 ? 0 : 1) = xn(t, k) : narrow(t, a++) = xn(t, k);
  quant::QuantSpec a4, q8;
  a4.bits = 4;
  q8.bits = 8;
  quant::fake_quant(narrow, a4);
  quant::fake_quant(wide, q8);
  Mat xq(xn);
  for (int64_t t = 0; t < xn.rows(); ++t)
    for (int64_t k = 0, a = 0; k < 32; ++k) xq(t, k) = (k == 3 || k == 20) ? wide(t, k == 3 ? 0 : 1) : narrow(t, a++);
  double num = 0, den = 0;
  for (const Mat* m : ws) {
    Mat wq(*m), wcols(m->rows(), 2);
    for (int64_t o = 0; o < m->rows(); ++o) {
      wcols(o, 0) = wq(o, 3), wcols(o, 1) = wq(o, 20);
      wq(o, 3) = wq(o, 20) = 0.f;
    }
    quant::fake_quant(wq, a4);  // 4-bit rows without the wide columns (their range includes the zeros)
    quant::fake_quant(wcols, q8);
    for (int64_t o = 0; o < m->rows(); ++o) wq(o, 3) = wcols(o, 0), wq(o, 20) = wcols(o, 1);
    add_output_error(xn, *m, xq, wq, num, den);
  }
  EXPECT_NEAR(r.rel_error[0], std::sqrt(num / den), 1e-4 * std::sqrt(num / den));
}

TEST(AutoSelect, QkClipKeepsEightBitLogitsAndRejectsHeavyClipping) {
  const Mat q = random_mat(24, 2 * 8, 10), k = random_mat(24, 1 * 8, 11);  // 2 query heads share 1 KV head
  AutoGrid grid;
  grid.qk_clips = {1.f, .5f};
  const QkClipResult r = choose_qk_clip({{q, k}}, 8, 2, 1, 8, 8, grid);
  EXPECT_EQ(r.clip, 1.f);
  ASSERT_EQ(r.rel_error.size(), 2u);
  EXPECT_LT(r.rel_error[0], 0.02);
  EXPECT_GT(r.rel_error[1], 5 * r.rel_error[0]);
}

}  // namespace
}  // namespace duq::calib
