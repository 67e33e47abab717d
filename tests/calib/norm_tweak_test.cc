// Norm tweaking: on a random block whose target is the same block with other RMSNorm weights, training the
// norms must recover most of the gap (the loss drops by well over half), the reported loss must be the loss
// of the returned norms (recomputed here), and with a target the norms cannot improve on, nothing changes.
#include "calib/norm_tweak.h"

#include <gtest/gtest.h>

#include "core/rng.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

model::ModelConfig block_config() { return test::tiny_config(16, 32, 1, 32, 32, /*heads=*/2, /*kv_heads=*/2); }

Mat rand_mat(int64_t r, int64_t c, Rng& rng, double scale) {
  Mat m(r, c);
  for (auto& v : m.flat()) v = static_cast<float>(scale * rng.normal());
  return m;
}

BlockParams<float> random_block(const model::ModelConfig& c, Rng& rng) {
  BlockParams<float> p;
  const int64_t D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim;
  for (int64_t j = 0; j < D; ++j) {
    p.attn_norm.push_back(1.f);
    p.ffn_norm.push_back(1.f);
  }
  const int64_t shapes[kNumLinears][2] = {{Q, D}, {K, D}, {K, D}, {D, Q}, {H, D}, {H, D}, {D, H}};
  for (int i = 0; i < kNumLinears; ++i) p.w[static_cast<size_t>(i)] = rand_mat(shapes[i][0], shapes[i][1], rng, 0.3);
  return p;
}

struct TweakCase {
  model::ModelConfig cfg = block_config();
  BlockParams<float> p;
  std::vector<Mat> xs, ts;
  BlockQuantSpec qs;
};

// Target: the unquantized block with norms `target_scale`·(1 + 0.3·noise); the trained block starts at 1.
TweakCase make(double noise) {
  TweakCase s;
  Rng rng(11);
  s.p = random_block(s.cfg, rng);
  BlockParams<float> truth = s.p;
  for (auto* n : {&truth.attn_norm, &truth.ffn_norm})
    for (float& v : *n) v = static_cast<float>(1.0 + noise * rng.normal());
  BlockQuantSpec none;
  for (int n = 0; n < 6; ++n) {
    s.xs.push_back(rand_mat(12, s.cfg.dim, rng, 1.0));
    Mat y, zero(12, s.cfg.dim);
    block_loss_grad<float>(s.cfg, none, truth, s.xs.back(), zero, &y, nullptr, nullptr);
    s.ts.push_back(std::move(y));
  }
  s.qs.abits = s.qs.kv_bits = 8;
  return s;
}

TEST(NormTweak, TrainingRecoversPerturbedNorms) {
  TweakCase s = make(0.3);
  NormTweakOptions o;
  o.epochs = 60;
  o.lr = 2e-2f;
  const NormTweakResult r = norm_tweak_block(s.cfg, s.qs, s.p, s.xs, s.ts, o);
  EXPECT_GT(r.loss_before, 0);
  EXPECT_LT(r.loss_after, 0.3 * r.loss_before);
  BlockParams<float> q = s.p;
  q.attn_norm = r.attn_norm;
  q.ffn_norm = r.ffn_norm;
  EXPECT_NEAR(mean_block_loss(s.cfg, s.qs, q, s.xs, s.ts), r.loss_after, 1e-6 * r.loss_before);
  EXPECT_EQ(r.steps, 60 * 6);
}

TEST(NormTweak, NeverWorseThanTheStart) {
  // An absurd learning rate throws the norms far off: the start is kept unless an epoch's norms beat it, and
  // the reported loss is always the returned norms' loss.
  TweakCase s = make(0.3);
  NormTweakOptions o;
  o.epochs = 2;
  o.lr = 8.f;
  const NormTweakResult r = norm_tweak_block(s.cfg, s.qs, s.p, s.xs, s.ts, o);
  EXPECT_LE(r.loss_after, r.loss_before);
  BlockParams<float> q = s.p;
  q.attn_norm = r.attn_norm;
  q.ffn_norm = r.ffn_norm;
  EXPECT_NEAR(mean_block_loss(s.cfg, s.qs, q, s.xs, s.ts), r.loss_after, 1e-6 * r.loss_before);
  if (r.loss_after == r.loss_before) {
    EXPECT_EQ(r.attn_norm, s.p.attn_norm);
    EXPECT_EQ(r.ffn_norm, s.p.ffn_norm);
  }
}

}  // namespace
}  // namespace duq::calib
