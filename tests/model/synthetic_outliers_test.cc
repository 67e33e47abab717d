// Planted outliers (model/outliers.h) show up where they should in a float forward of a small random model:
// normal outlier channels k× the median channel maximum at all four linear inputs, and the trigger tokens'
// value at the down-projection input ≥ 100× its median (ordinary tokens: exactly 0 there). Also: planting
// is deterministic, γ = 1 leaves the float function unchanged, bad specs throw.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "model/forward.h"
#include "model/outliers.h"
#include "model/synthetic.h"

namespace duq::model {
namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.dim = 256, c.hidden_dim = 704, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 4, c.vocab_size = 64;
  c.max_seq_len = 128, c.tied_embeddings = false;
  return c;
}

// Copies of every linear input: [layer][site] → x [T × width].
struct Capture : ForwardHooks {
  std::vector<std::array<Mat, kNumSites>> x;
  explicit Capture(int layers) : x(static_cast<size_t>(layers)) {}
  void linear_input(int layer, Site site, MatView v) override {
    x[static_cast<size_t>(layer)][static_cast<size_t>(site)] = Mat(v);
  }
};

double median(std::vector<float> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}
// Mean over `channels` of a channel statistic / its median over all channels (rows `skip` excluded): the
// maximum |x| over tokens, or (rms) the root mean square — for the heavy-tailed SwiGLU product at DownIn,
// whose per-channel maxima over ~100 tokens scatter by 2×.
double channel_ratio(const Mat& x, const std::vector<int>& channels, const std::set<int>& skip_rows, bool rms = false) {
  std::vector<float> m(static_cast<size_t>(x.cols()), 0.f);
  for (int64_t t = 0; t < x.rows(); ++t) {
    if (skip_rows.count(static_cast<int>(t))) continue;
    for (int64_t j = 0; j < x.cols(); ++j) {
      float& s = m[static_cast<size_t>(j)];
      s = rms ? s + x(t, j) * x(t, j) : std::max(s, std::fabs(x(t, j)));
    }
  }
  if (rms)
    for (float& s : m) s = std::sqrt(s);
  double s = 0;
  for (int j : channels) s += m[static_cast<size_t>(j)];
  return s / static_cast<double>(channels.size()) / median(m);
}

std::vector<int> tokens_with_triggers(int n, int vocab, const std::vector<int>& trig, std::set<int>* positions) {
  Rng r(7);
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& v : t) {
    do v = static_cast<int>(r.below(static_cast<uint64_t>(vocab)));
    while (std::find(trig.begin(), trig.end(), v) != trig.end());
  }
  t[0] = 1;  // BOS (a trigger here)
  t[17] = trig[1];
  t[40] = trig[2];
  t[41] = trig[1];
  for (int p : {0, 17, 40, 41}) positions->insert(p);
  return t;
}

TEST(SyntheticOutliers, PlantedStructureAppearsInTheForward) {
  const ModelConfig c = small_config();
  ModelWeights w = random_weights(c, 5);
  OutlierSpec spec;
  spec.channels = 4;
  spec.scale = 20.f;
  spec.massive_tokens = {1, 13, 29};
  spec.massive_scale = 300.f;
  spec.seed = 5;
  const OutlierPlan plan = plant_outliers(c, w, spec);
  ASSERT_EQ(plan.residual_channels.size(), 4u);
  ASSERT_EQ(plan.massive_hidden.size(), 2u);
  ASSERT_GE(plan.massive_channel, 0);

  std::set<int> trig_pos;
  const std::vector<int> toks = tokens_with_triggers(96, c.vocab_size, spec.massive_tokens, &trig_pos);
  Model m(c, std::move(w));
  KVCache cache(c, static_cast<int>(toks.size()));
  Capture cap(c.n_layers);
  m.forward(toks, 0, cache, &cap);

  // Control: the same spec without the DownIn channels. Layer 0's DownIn input differs exactly by k at the
  // planted hidden channels and nowhere else.
  {
    ModelWeights w2 = random_weights(c, 5);
    OutlierSpec s2 = spec;
    s2.at_down_in = false;
    const OutlierPlan p2 = plant_outliers(c, w2, s2);
    EXPECT_EQ(p2.hidden_channels, plan.hidden_channels);
    Model m2(c, std::move(w2));
    KVCache cache2(c, static_cast<int>(toks.size()));
    Capture cap2(c.n_layers);
    m2.forward(toks, 0, cache2, &cap2);
    const Mat& a = cap.x[0][3];
    const Mat& b = cap2.x[0][3];
    const std::set<int> planted(plan.hidden_channels.begin(), plan.hidden_channels.end());
    for (int64_t t = 0; t < a.rows(); ++t)
      for (int64_t j = 0; j < a.cols(); ++j) {
        const float expect = planted.count(static_cast<int>(j)) ? spec.scale * b(t, j) : b(t, j);
        ASSERT_NEAR(a(t, j), expect, 1e-4f * (1.f + std::fabs(expect))) << "token " << t << " channel " << j;
      }
  }

  const double k = spec.scale;
  for (int l = 0; l < c.n_layers; ++l) {
    const auto& x = cap.x[static_cast<size_t>(l)];
    // Normal outliers: k× in every token (measured on ordinary tokens; trigger rows are dominated by c).
    const double r_attn = channel_ratio(x[0], plan.residual_channels, trig_pos);
    const double r_out = channel_ratio(x[1], plan.v_rows, trig_pos);  // MHA: att channel = v row
    const double r_ffn = channel_ratio(x[2], plan.residual_channels, trig_pos);
    const double r_down = channel_ratio(x[3], plan.hidden_channels, trig_pos, /*rms=*/true);
    std::printf(
        "layer %d planted channels / median channel: max|x| AttnIn %.1f AttnOut %.1f FfnIn %.1f, rms DownIn %.1f "
        "(max %.1f) (k = %.0f)\n",
        l, r_attn, r_out, r_ffn, r_down, channel_ratio(x[3], plan.hidden_channels, trig_pos), k);
    // DownIn: the hidden channels' scale itself varies by several × from channel to channel (the gate/up
    // inputs are dominated by the few FfnIn outlier channels), so k is checked exactly against a control
    // model below, and only loosely here.
    EXPECT_GT(r_down, 3.0) << "layer " << l;
    for (double r : {r_attn, r_out, r_ffn}) {
      EXPECT_GT(r, 0.6 * k) << "layer " << l;
      EXPECT_LT(r, 1.6 * k) << "layer " << l;
    }
    // Every token carries the outliers: the planted channels exceed the median channel in (nearly) all rows.
    const Mat& down = x[3];
    std::vector<float> all(down.flat().begin(), down.flat().end());
    for (float& v : all) v = std::fabs(v);
    const double med = median(all);
    const int hs = plan.massive_hidden[static_cast<size_t>(l)];
    double trig_min = 1e30, ordinary_max = 0;
    for (int64_t t = 0; t < down.rows(); ++t) {
      const double v = std::fabs(down(t, hs));
      if (trig_pos.count(static_cast<int>(t))) {
        trig_min = std::min(trig_min, v);
        // h* is the row maximum of a trigger token.
        double row_max = 0;
        for (int64_t j = 0; j < down.cols(); ++j) row_max = std::max(row_max, double(std::fabs(down(t, j))));
        EXPECT_EQ(row_max, v) << "layer " << l << " token " << t;
      } else {
        ordinary_max = std::max(ordinary_max, v);
      }
    }
    std::printf(
        "layer %d DownIn: median |x| %.3f (estimate %.3f), trigger tokens at h*=%d ≥ %.1f = %.0f× median; "
        "ordinary tokens at h* ≤ %.2f = %.1f×\n",
        l, med, plan.median_act, hs, trig_min, trig_min / med, ordinary_max, ordinary_max / med);
    EXPECT_GE(trig_min / med, 100.0) << "layer " << l;
    EXPECT_LE(trig_min / med, 1000.0) << "layer " << l;
    EXPECT_EQ(ordinary_max, 0.0) << "layer " << l;  // h* is a dedicated detector
    // Trigger tokens' reserved residual channel: exactly 0 in ordinary tokens at the attention input.
    for (int64_t t = 0; t < x[0].rows(); ++t)
      if (!trig_pos.count(static_cast<int>(t))) EXPECT_EQ(x[0](t, plan.massive_channel), 0.f);
      else EXPECT_GT(std::fabs(x[0](t, plan.massive_channel)), 0.5 * plan.xi);
  }
}

TEST(SyntheticOutliers, DeterministicAndSeeded) {
  const ModelConfig c = small_config();
  OutlierSpec spec;
  spec.channels = 3;
  spec.scale = 10.f;
  spec.massive_tokens = {1, 5};
  spec.seed = 11;
  ModelWeights a = random_weights(c, 1), b = random_weights(c, 1), d = random_weights(c, 1);
  const OutlierPlan pa = plant_outliers(c, a, spec), pb = plant_outliers(c, b, spec);
  EXPECT_EQ(pa.residual_channels, pb.residual_channels);
  EXPECT_EQ(pa.massive_hidden, pb.massive_hidden);
  EXPECT_TRUE(
      std::equal(a.layers[1].w_up.flat().begin(), a.layers[1].w_up.flat().end(), b.layers[1].w_up.flat().begin()));
  EXPECT_TRUE(std::equal(a.embed.flat().begin(), a.embed.flat().end(), b.embed.flat().begin()));
  spec.seed = 12;
  const OutlierPlan pd = plant_outliers(c, d, spec);
  EXPECT_NE(pa.residual_channels, pd.residual_channels);
}

TEST(SyntheticOutliers, FullCompensationKeepsTheFloatFunction) {
  const ModelConfig c = small_config();
  ModelWeights w0 = random_weights(c, 3), w1 = random_weights(c, 3);
  OutlierSpec spec;
  spec.channels = 4;
  spec.scale = 16.f;  // a power of two: the compensation is exact in float
  spec.weight_compensation = 1.f;
  spec.seed = 3;
  plant_outliers(c, w1, spec);
  EXPECT_NE(w0.layers[0].attn_norm[0] + w0.layers[0].w_up(0, 0), 0.f);
  Model m0(c, std::move(w0)), m1(c, std::move(w1));
  std::vector<int> toks(40);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int>((i * 7 + 1) % 64);
  KVCache c0(c, 40), c1(c, 40);
  const Mat a = m0.forward(toks, 0, c0), b = m1.forward(toks, 0, c1);
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a.data()[i]) - b.data()[i]));
    den = std::max(den, std::fabs(double(a.data()[i])));
  }
  EXPECT_LE(num / den, 1e-4);
}

TEST(SyntheticOutliers, BadSpecsThrow) {
  const ModelConfig c = small_config();
  ModelWeights w = random_weights(c, 1);
  OutlierSpec s;
  s.massive_tokens = {64};
  EXPECT_THROW(plant_outliers(c, w, s), Error);
  s = {};
  s.channels = 200;
  s.scale = 2.f;
  EXPECT_THROW(plant_outliers(c, w, s), Error);
  s = {};
  s.channels = 2;
  s.scale = -1.f;
  EXPECT_THROW(plant_outliers(c, w, s), Error);
  EXPECT_EQ(parse_id_list("1,13,29", "x"), (std::vector<int>{1, 13, 29}));
  EXPECT_THROW(parse_id_list("1,,2", "x"), Error);
  EXPECT_THROW(parse_id_list("1,a", "x"), Error);
  EXPECT_THROW(parse_id_list("", "x"), Error);
  EXPECT_THROW(parse_id_list("-3", "x"), Error);
}

}  // namespace
}  // namespace duq::model
