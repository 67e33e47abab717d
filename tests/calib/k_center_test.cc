// Key centering (--k-center) on stories260K's float weights: subtracting a constant from every key leaves
// the attention unchanged (softmax ignores a shift common to a query's logits), and the center the
// calibration stores is the mean of the keys after RoPE, computed here independently of the forward.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "calib/gptq_sites.h"
#include "calib/sim_quant.h"
#include "core/rng.h"
#include "kernels/gemm_f32.h"
#include "kernels/nn_ops.h"
#include "mat_compare.h"
#include "model/rope_freq.h"
#include "model/weights.h"
#include "test_support.h"

namespace duq::calib {
namespace {

struct Stories {
  std::unique_ptr<model::WeightSource> src;
  std::vector<Mat> windows;  // embeddings [T×D] of consecutive tokens
};

Stories load(int n, int T) {
  Stories s;
  s.src = model::open_weights((test::assets_dir() / "models/stories260K/stories260K.bin").string());
  const Mat embed = s.src->embedding();
  for (int w = 0; w < n; ++w) {
    Mat x(T, s.src->config().dim);
    for (int t = 0; t < T; ++t)
      for (int64_t j = 0; j < x.cols(); ++j) x(t, j) = embed((37 * w + 11 * t + 1) % embed.rows(), j);
    s.windows.push_back(std::move(x));
  }
  return s;
}

QuantOptions float_options() {
  QuantOptions o;
  o.wbits = o.abits = kNoQuant;  // nothing quantized: only the centering acts
  o.qk_hadamard = 0;
  return o;
}

TEST(KeyCenter, LeavesFloatAttentionUnchanged) {
  if (!std::filesystem::exists(test::assets_dir() / "models/stories260K")) GTEST_SKIP() << "no assets";
  Stories s = load(1, 40);
  const auto& cfg = s.src->config();
  const kernels::RopeTable rope = model::rope_table(cfg, 40);
  Rng rng(7);
  for (int l = 0; l < cfg.n_layers; ++l) {
    const model::LayerWeights w = s.src->layer(l);
    const model::FloatLinears lin(w);
    SimQuantHooks centered(cfg, float_options());
    std::vector<float> c(static_cast<size_t>(cfg.kv_dim()));
    for (float& v : c) v = static_cast<float>(rng.normal() * 3.0);  // larger than the keys themselves
    centered.set_k_center(l, c);
    Mat plain(s.windows[0]), shifted(s.windows[0]);
    Mat kc(40, cfg.kv_dim()), vc(40, cfg.kv_dim());
    model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, plain, 0, kc, vc, rope, nullptr);
    model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, shifted, 0, kc, vc, rope, &centered);
    EXPECT_LT(test::rel_frobenius_diff(shifted, plain), 1e-5) << "layer " << l;
    // The same vector taken from the queries instead is no softmax-invariant shift: the check can fail.
    struct FromQueries : model::ForwardHooks {
      const std::vector<float>* c;
      void qk(int, MatView q, MatView) override {
        for (int64_t t = 0; t < q.rows; ++t)
          for (int64_t j = 0; j < q.cols; ++j) q(t, j) -= (*c)[static_cast<size_t>(j) % c->size()];
      }
    } from_queries;
    from_queries.c = &c;
    Mat moved(s.windows[0]);
    model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, moved, 0, kc, vc, rope, &from_queries);
    EXPECT_GT(test::rel_frobenius_diff(moved, plain), 1e-3) << "layer " << l;
  }
}

TEST(KeyCenter, IsTheMeanOfTheKeysAfterRope) {
  if (!std::filesystem::exists(test::assets_dir() / "models/stories260K")) GTEST_SKIP() << "no assets";
  const int T = 24;
  Stories s = load(3, T);
  const auto& cfg = s.src->config();
  const kernels::RopeTable rope = model::rope_table(cfg, T);
  SimQuantHooks hooks(cfg, float_options());
  for (int l : {0, cfg.n_layers - 1}) {
    const model::LayerWeights w = s.src->layer(l);
    const std::vector<float> got = key_mean(cfg, l, w, hooks, s.windows, rope);
    // Independently: K = RoPE(RMSNorm(x)·W_kᵀ) per window, averaged over all rows in double.
    std::vector<double> sum(static_cast<size_t>(cfg.kv_dim()), 0.0);
    for (const Mat& x : s.windows) {
      Mat xn(T, cfg.dim), k(T, cfg.kv_dim());
      kernels::rmsnorm(x, w.attn_norm, cfg.rms_eps, xn);
      kernels::matmul_xwt(xn, w.wk, k);
      kernels::rope(k, cfg.n_kv_heads, 0, rope, cfg.rope_layout == model::RopeLayout::Interleaved);
      for (int t = 0; t < T; ++t)
        for (int64_t j = 0; j < k.cols(); ++j) sum[static_cast<size_t>(j)] += k(t, j);
    }
    ASSERT_EQ(got.size(), sum.size());
    double max_key = 0;
    for (size_t j = 0; j < sum.size(); ++j) {
      const double want = sum[j] / (3.0 * T);
      EXPECT_NEAR(got[j], want, 1e-5 * (1 + std::abs(want))) << "layer " << l << " channel " << j;
      max_key = std::max(max_key, std::abs(want));
    }
    EXPECT_GT(max_key, 0.1) << "layer " << l;  // the keys have a common offset worth removing
  }
}

}  // namespace
}  // namespace duq::calib
