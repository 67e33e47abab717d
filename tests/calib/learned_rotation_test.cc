// Learned rotations (calib/learned_rotation.h): the site gradient ∂L/∂R against central differences in
// float64 (no quantization: the function is smooth), with R entering both the activations (x·G·R) and the
// consumer weights (W_f·R); the Cayley step keeps R exactly orthogonal and block-diagonal and lowers a
// quadratic's value; training on a quantized block lowers the block loss and what it returns folds into a
// BlockRotation whose matrix is R₂·R.
#include "calib/learned_rotation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/rng.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

model::ModelConfig block_config() { return test::tiny_config(16, 24, 1, 32, 32, /*heads=*/2, /*kv_heads=*/1); }

template <class T>
Matrix<T> rand_mat(int64_t r, int64_t c, Rng& rng, double scale, double diag = 0) {
  Matrix<T> m(r, c);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) m(i, j) = static_cast<T>(scale * rng.normal() + (i == j ? diag : 0.0));
  return m;
}
template <class T>
Matrix<T> mul(const Matrix<T>& a, const Matrix<T>& b) {
  Matrix<T> c(a.rows(), b.cols());
  for (int64_t i = 0; i < a.rows(); ++i)
    for (int64_t k = 0; k < a.cols(); ++k)
      for (int64_t j = 0; j < b.cols(); ++j) c(i, j) += a(i, k) * b(k, j);
  return c;
}

TEST(LearnedRotation, SiteGradientMatchesCentralDifferences) {
  const model::ModelConfig c = block_config();
  Rng rng(3);
  const int64_t D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim;
  BlockParams<double> base;
  for (int64_t j = 0; j < D; ++j) {
    base.attn_norm.push_back(1 + 0.2 * rng.normal());
    base.ffn_norm.push_back(1 + 0.2 * rng.normal());
  }
  const int64_t shapes[kNumLinears][2] = {{Q, D}, {K, D}, {K, D}, {D, Q}, {H, D}, {H, D}, {D, H}};
  std::array<Matrix<double>, kNumLinears> wf;
  for (int i = 0; i < kNumLinears; ++i)
    wf[static_cast<size_t>(i)] = rand_mat<double>(shapes[i][0], shapes[i][1], rng, 0.4);
  const int64_t widths[4] = {D, Q, D, H};
  std::array<Matrix<double>, 4> gfix, r;
  for (int s = 0; s < 4; ++s) {
    gfix[static_cast<size_t>(s)] = rand_mat<double>(widths[s], widths[s], rng, 0.2, 1.0);
    r[static_cast<size_t>(s)] =
        rand_mat<double>(widths[s], widths[s], rng, 0.2, 1.0);  // any R: the gradient is Euclidean
  }
  const Matrix<double> x = rand_mat<double>(5, D, rng, 1.0), target = rand_mat<double>(5, D, rng, 1.0);
  const int site_of[kNumLinears] = {0, 0, 0, 1, 2, 2, 3};
  auto params = [&] {
    BlockParams<double> p = base;
    for (int s = 0; s < 4; ++s)
      p.g[static_cast<size_t>(s)] = mul(gfix[static_cast<size_t>(s)], r[static_cast<size_t>(s)]);
    for (int i = 0; i < kNumLinears; ++i)
      p.w[static_cast<size_t>(i)] = mul(wf[static_cast<size_t>(i)], r[static_cast<size_t>(site_of[i])]);
    return p;
  };
  const BlockQuantSpec qs;  // no quantization
  auto loss = [&] { return block_loss_grad<double>(c, qs, params(), x, target, nullptr, nullptr, nullptr); };
  std::array<Matrix<double>, kNumLinears> gw;
  BlockExtraGrads<double> eg;
  block_loss_grad<double>(c, qs, params(), x, target, nullptr, &gw, nullptr, &eg);
  for (int s = 0; s < 4; ++s) {
    std::vector<const Matrix<double>*> ws, gs;
    for (int i = 0; i < kNumLinears; ++i)
      if (site_of[i] == s) {
        ws.push_back(&wf[static_cast<size_t>(i)]);
        gs.push_back(&gw[static_cast<size_t>(i)]);
      }
    const Matrix<double> g =
        site_rotation_grad<double>(gfix[static_cast<size_t>(s)], eg.g[static_cast<size_t>(s)], ws, gs);
    double num = 0, den = 0;
    const double h = 1e-6;
    for (size_t k = 0; k < r[static_cast<size_t>(s)].flat().size(); ++k) {
      double& e = r[static_cast<size_t>(s)].data()[k];
      const double keep = e;
      e = keep + h;
      const double lp = loss();
      e = keep - h;
      const double lm = loss();
      e = keep;
      const double fd = (lp - lm) / (2 * h);
      num += (fd - g.data()[k]) * (fd - g.data()[k]);
      den += fd * fd;
    }
    EXPECT_GT(den, 0) << "site " << s;
    EXPECT_LT(std::sqrt(num / den), 1e-5) << "site " << s;
  }
}

TEST(LearnedRotation, CayleyStepStaysOrthogonalAndDescends) {
  // f(R) = ‖R − M‖²: the Euclidean gradient 2(R − M); a small step from I must lower f and keep RᵀR = I.
  Rng rng(4);
  const int64_t n = 6;
  transform::MatD m(n, n), r = transform::MatD::identity(n);
  for (double& v : m.flat()) v = rng.normal();
  auto f = [&](const transform::MatD& x) {
    double s = 0;
    for (size_t k = 0; k < x.flat().size(); ++k) s += (x.data()[k] - m.data()[k]) * (x.data()[k] - m.data()[k]);
    return s;
  };
  double prev = f(r);
  for (int it = 0; it < 20; ++it) {
    transform::MatD g(n, n);
    for (size_t k = 0; k < g.flat().size(); ++k) g.data()[k] = 2 * (r.data()[k] - m.data()[k]);
    r = cayley_update(r, g, 0.05);
    const double now = f(r);
    EXPECT_LT(now, prev) << "step " << it;
    prev = now;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double d = 0;
      for (int64_t k = 0; k < n; ++k) d += r(k, i) * r(k, j);
      EXPECT_NEAR(d, i == j ? 1.0 : 0.0, 1e-12);
    }
}

TEST(LearnedRotation, TrainingLowersTheQuantizedBlockLossAndFolds) {
  const model::ModelConfig c = block_config();
  Rng rng(8);
  const int64_t D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim;
  BlockParams<float> fixed;
  for (int64_t j = 0; j < D; ++j) {
    fixed.attn_norm.push_back(1.f);
    fixed.ffn_norm.push_back(1.f);
  }
  const int64_t shapes[kNumLinears][2] = {{Q, D}, {K, D}, {K, D}, {D, Q}, {H, D}, {H, D}, {D, H}};
  std::array<Mat, kNumLinears> w;
  std::array<const Mat*, kNumLinears> wp;
  BlockParams<float> fp = fixed;
  for (int i = 0; i < kNumLinears; ++i) {
    w[static_cast<size_t>(i)] = Mat(shapes[i][0], shapes[i][1]);
    for (auto& v : w[static_cast<size_t>(i)].flat()) v = static_cast<float>(0.3 * rng.normal());
    w[static_cast<size_t>(i)](0, 1) = 2.f;  // an outlier weight column entry
    wp[static_cast<size_t>(i)] = &w[static_cast<size_t>(i)];
    fp.w[static_cast<size_t>(i)] = w[static_cast<size_t>(i)];
  }
  // G = I at every site (identity rotations of block 8 with a tail where the width is not a multiple).
  std::array<transform::BlockRotation, 4> rots;
  std::array<const transform::BlockRotation*, 4> layouts;
  const int64_t widths[4] = {D, Q, D, H};
  for (int s = 0; s < 4; ++s) {
    auto& br = rots[static_cast<size_t>(s)];
    br.dim = widths[s];
    br.block = s == 3 ? 10 : 8;  // 24 = 2·10 + 4: a tail
    br.full = Mat(br.block, br.block);
    for (int64_t j = 0; j < br.block; ++j) br.full(j, j) = 1.f;
    if (br.tail_width() > 0) {
      br.tail = Mat(br.tail_width(), br.tail_width());
      for (int64_t j = 0; j < br.tail_width(); ++j) br.tail(j, j) = 1.f;
    }
    fixed.g[static_cast<size_t>(s)] = br.matrix();
    layouts[static_cast<size_t>(s)] = &br;
  }
  std::vector<Mat> xs, ts;
  BlockQuantSpec none;
  for (int n = 0; n < 6; ++n) {
    Mat x(12, D);
    for (auto& v : x.flat()) v = static_cast<float>(rng.normal());
    for (int64_t t = 0; t < 12; ++t) x(t, 3) *= 40.f;  // a massive outlier channel
    Mat y, zero(12, D);
    block_loss_grad<float>(c, none, fp, x, zero, &y, nullptr, nullptr);
    xs.push_back(std::move(x));
    ts.push_back(std::move(y));
  }
  BlockQuantSpec qs;
  qs.abits = qs.kv_bits = 4;
  LearnOptions o;
  o.epochs = 10;
  o.angle = 0.3f;
  o.lr_clip = 0.f;  // rotations alone: the loss drop is theirs
  const LearnResult r = learn_train_block(c, qs, fixed, wp, layouts, xs, ts, o);
  EXPECT_LT(r.loss_last, 0.7 * r.loss_first);
  std::fprintf(stderr, "block loss %.5g -> %.5g\n", r.loss_first, r.loss_last);
  for (int s = 0; s < 4; ++s) {
    ASSERT_TRUE(r.rot[static_cast<size_t>(s)].has_value());
    const Mat d = r.rot[static_cast<size_t>(s)]->dense();
    // Orthogonal and block-diagonal with the layout's blocks.
    const auto& br = rots[static_cast<size_t>(s)];
    for (int64_t i = 0; i < d.rows(); ++i)
      for (int64_t j = 0; j < d.cols(); ++j) {
        double dot = 0;
        for (int64_t k = 0; k < d.rows(); ++k) dot += double(d(k, i)) * d(k, j);
        EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5);
        const int64_t bi = std::min(i / br.block, br.full_blocks()), bj = std::min(j / br.block, br.full_blocks());
        if (bi != bj) {
          EXPECT_EQ(d(i, j), 0.f);
        }
      }
    transform::BlockRotation folded = br;
    r.rot[static_cast<size_t>(s)]->fold_into(folded);
    const Mat m = folded.matrix();
    for (int64_t i = 0; i < d.rows(); ++i)
      for (int64_t j = 0; j < d.cols(); ++j) EXPECT_NEAR(m(i, j), d(i, j), 1e-6);  // R₂ = I: R₂·R = R
  }
}

}  // namespace
}  // namespace duq::calib
