// The block backward against central differences in float64 (activation quantization off: the function is
// smooth), on a tiny GQA block with every piece switched on: site transforms G, Q/K head rotation, both RoPE
// layouts. Plus the activation quantizer: equal to quant::fake_quant, and its straight-through gradient.
#include "calib/block_grad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "core/rng.h"
#include "kernels/act_quant.h"
#include "quant/uniform.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

model::ModelConfig tiny_config(model::RopeLayout layout) {
  model::ModelConfig c = test::tiny_config(16, 24, 1, 32, 16, /*heads=*/2, /*kv_heads=*/1);
  c.rope_layout = layout;
  return c;
}

Matrix<double> rand_mat(int64_t r, int64_t c, Rng& rng, double scale, double diag = 0) {
  Matrix<double> m(r, c);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) m(i, j) = scale * rng.normal() + (i == j ? diag : 0.0);
  return m;
}

BlockParams<double> random_block(const model::ModelConfig& c, Rng& rng) {
  BlockParams<double> p;
  const int64_t D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim, hd = c.head_dim();
  for (int64_t j = 0; j < D; ++j) {
    p.attn_norm.push_back(1 + 0.2 * rng.normal());
    p.ffn_norm.push_back(1 + 0.2 * rng.normal());
  }
  const int64_t shapes[kNumLinears][2] = {{Q, D}, {K, D}, {K, D}, {D, Q}, {H, D}, {H, D}, {D, H}};
  for (int i = 0; i < kNumLinears; ++i) p.w[static_cast<size_t>(i)] = rand_mat(shapes[i][0], shapes[i][1], rng, 0.4);
  const int64_t widths[4] = {D, Q, D, H};
  for (int s = 0; s < 4; ++s) p.g[static_cast<size_t>(s)] = rand_mat(widths[s], widths[s], rng, 0.2, 1.0);
  p.head_rot = rand_mat(hd, hd, rng, 0.3, 1.0);
  return p;
}

class BlockGradCheck : public ::testing::TestWithParam<model::RopeLayout> {};

TEST_P(BlockGradCheck, MatchesCentralDifferences) {
  const model::ModelConfig c = tiny_config(GetParam());
  Rng rng(5);
  BlockParams<double> p = random_block(c, rng);
  const int64_t T = 5;
  Matrix<double> x = rand_mat(T, c.dim, rng, 1.0), target = rand_mat(T, c.dim, rng, 1.0);
  BlockQuantSpec qs;  // 16 bits everywhere: no quantization
  std::array<Matrix<double>, kNumLinears> gw;
  Matrix<double> gx;
  BlockExtraGrads<double> extra;
  block_loss_grad<double>(c, qs, p, x, target, nullptr, &gw, &gx, &extra);
  const double h = 1e-6;
  auto check = [&](std::span<double> param, std::span<const double> grad, const char* what) {
    double num = 0, den = 0, worst = 0, gmax = 0;
    for (double g : grad) gmax = std::max(gmax, std::fabs(g));
    for (size_t i = 0; i < param.size(); ++i) {
      const double keep = param[i];
      param[i] = keep + h;
      const double lp = block_loss_grad<double>(c, qs, p, x, target, nullptr, nullptr, nullptr);
      param[i] = keep - h;
      const double lm = block_loss_grad<double>(c, qs, p, x, target, nullptr, nullptr, nullptr);
      param[i] = keep;
      const double fd = (lp - lm) / (2 * h);
      num += (fd - grad[i]) * (fd - grad[i]);
      den += fd * fd;
      worst = std::max(worst, std::fabs(fd - grad[i]) / std::max(std::fabs(fd), 1e-2 * gmax));
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    EXPECT_LT(rel, 1e-3) << what;
    EXPECT_LT(worst, 1e-3) << what << " (worst entry)";
    EXPECT_GT(den, 0) << what << " has a zero gradient";
  };
  const char* names[kNumLinears] = {"wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"};
  for (int i = 0; i < kNumLinears; ++i)
    check(p.w[static_cast<size_t>(i)].flat(), gw[static_cast<size_t>(i)].flat(), names[i]);
  check(x.flat(), gx.flat(), "x");
  // Norm tweaking's and the learned transforms' gradients (G through the activation path: the weights are
  // separate parameters here).
  check(p.attn_norm, extra.attn_norm, "attn_norm");
  check(p.ffn_norm, extra.ffn_norm, "ffn_norm");
  const char* gnames[4] = {"G attn_in", "G attn_out", "G ffn_in", "G down_in"};
  for (int s = 0; s < 4; ++s)
    check(p.g[static_cast<size_t>(s)].flat(), extra.g[static_cast<size_t>(s)].flat(), gnames[s]);
}

INSTANTIATE_TEST_SUITE_P(RopeLayouts, BlockGradCheck,
                         ::testing::Values(model::RopeLayout::Interleaved, model::RopeLayout::RotateHalf));

TEST(ActQuant, ForwardEqualsUniformFakeQuant) {
  Rng rng(9);
  Mat a(7, 19);
  for (auto& v : a.flat()) v = static_cast<float>(3 * rng.normal());
  for (int bits : {3, 4, 8})
    for (float clip : {1.f, 0.9f}) {
      Mat ref(a), mine(a);
      quant::QuantSpec s;
      s.bits = bits;
      s.clip = clip;
      quant::fake_quant(ref, s);
      act_fake_quant_rows(mine.data(), mine.rows(), mine.cols(), bits, clip);
      for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(mine.data()[i], ref.data()[i]);
    }
}

// Straight-through: identity inside the grid, zero where the code is clamped; the scale path moves only the
// row's max and min entries, by ds·clip/(2^b − 1) with ds = Σ g_j·∂x̂_j/∂s.
TEST(ActQuant, StraightThroughGradient) {
  const std::vector<double> x = {-1.0, 0.3, 0.1, 2.0, 0.7};
  const std::vector<double> g = {0.5, -1.0, 2.0, 1.5, 0.25};
  std::vector<double> gi(5);
  act_fake_quant_rows_grad(x.data(), g.data(), gi.data(), 1, 5, 4, 0.9f, /*scale_grad=*/false);
  // clip 0.9: lo = −0.9, hi = 1.8, s = 0.18, z = 5: x = −1 → round(−5.56) + 5 = −1 clamped; x = 2 → 11 + 5 = 16
  // clamped.
  EXPECT_EQ(gi[0], 0.0);
  EXPECT_EQ(gi[3], 0.0);
  EXPECT_EQ(gi[1], g[1]);
  EXPECT_EQ(gi[2], g[2]);
  EXPECT_EQ(gi[4], g[4]);
  std::vector<double> gs(5);
  act_fake_quant_rows_grad(x.data(), g.data(), gs.data(), 1, 5, 4, 0.9f, /*scale_grad=*/true);
  const double c9 = static_cast<double>(0.9f), s = (c9 * 2.0 + c9 * 1.0) / 15, z = std::nearbyint(c9 / s);
  double ds = 0;
  for (int j = 0; j < 5; ++j) {
    const double u = x[static_cast<size_t>(j)] / s, c = std::nearbyint(u) + z;
    const bool inside = c >= 0 && c <= 15;
    ds += g[static_cast<size_t>(j)] * ((std::clamp(c, 0.0, 15.0) - z) - (inside ? u : 0.0));
  }
  EXPECT_NEAR(gs[3] - gi[3], ds * c9 / 15, 1e-12);
  EXPECT_NEAR(gs[0] - gi[0], -ds * c9 / 15, 1e-12);
  EXPECT_EQ(gs[1], gi[1]);
}

// --wide-channels: the block's site quantizer gives the integer engine's split grid (kernels::quantize_acts_split,
// an independent implementation), and its gradient treats the wide channels with their own grid: at clip 0.9
// the row's largest entries are wide and pass their gradient (clip 1 there), while the narrow part's own
// extremes are clamped by its clip 0.9 and get none.
TEST(ActQuant, WideChannelsSplitGridAndGradient) {
  Rng rng(11);
  const int64_t R = 4, N = 24;
  const std::vector<int32_t> wide{2, 9, 23};
  Mat a(R, N);
  for (auto& v : a.flat()) v = static_cast<float>(rng.normal());
  for (int64_t r = 0; r < R; ++r)
    for (int32_t j : wide) a(r, j) = static_cast<float>(30 + 5 * rng.normal());
  Mat mine(a);
  act_fake_quant_site(mine.data(), R, N, 4, 0.9f, wide);
  kernels::QuantActs narrow, wq;
  kernels::quantize_acts_split(a, wide.data(), 3, 4, 0.9f, narrow, wq);
  const Mat xn = kernels::dequantize_acts(narrow), xw = kernels::dequantize_acts(wq);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0, b = 0; j < N; ++j) {
      const bool is_wide = b < 3 && wide[static_cast<size_t>(b)] == j;
      EXPECT_EQ(mine(r, j), is_wide ? xw(r, b++) : xn(r, j)) << r << ", " << j;
    }
  std::vector<double> x(a.flat().begin(), a.flat().end()), g(x.size()), gi(x.size()), whole(x.size());
  for (auto& v : g) v = rng.normal();
  act_fake_quant_site_grad(x.data(), g.data(), gi.data(), R, N, 4, 0.9f, /*scale_grad=*/false, wide);
  act_fake_quant_rows_grad(x.data(), g.data(), whole.data(), R, N, 4, 0.9f, /*scale_grad=*/false);
  int clamped_narrow = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t top = std::max_element(x.begin() + r * N, x.begin() + (r + 1) * N) - (x.begin() + r * N);
    ASSERT_NE(std::find(wide.begin(), wide.end(), top), wide.end());
    EXPECT_EQ(whole[static_cast<size_t>(r * N + top)], 0.0);  // clamped with the whole row (clip 0.9 of its max)
    for (int64_t j = 0; j < N; ++j) {
      const size_t i = static_cast<size_t>(r * N + j);
      if (std::find(wide.begin(), wide.end(), j) != wide.end()) {
        EXPECT_EQ(gi[i], g[i]);  // inside its own 8-bit grid (clip 1)
      } else {
        EXPECT_TRUE(gi[i] == g[i] || gi[i] == 0.0);
        clamped_narrow += gi[i] == 0.0;
      }
    }
  }
  EXPECT_GE(clamped_narrow, static_cast<int>(R));  // each row's narrow max (or min) is clipped
}

}  // namespace
}  // namespace duq::calib
