// SmoothQuant as its own code runs LLaMA (smooth.py, smooth_ln_fcs_llama_like): smoothing only on the inputs
// that follow a norm (q/k/v, gate/up), α = 0.5, w_j = max over all consumers, s clamped at 1e-5. Checked on a
// synthetic model quantized with no rounding at all (W16A16), so the output weights are exactly the folded
// ones: W_o, W_down, W_v and W_up rows untouched; the attention norm divided by s recomputed here by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "calib/pipeline.h"
#include "model/synthetic.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

model::ModelConfig tiny() { return test::tiny_config(); }

TEST(SmoothQuant, OnlyNormInputsAlphaHalfFloor1e5) {
  const model::ModelConfig c = tiny();
  model::ModelWeights w = model::random_weights(c, 7);
  // Channel 3 of the attention input is ~1e-8 after the norm: s = √(1e-8 / max|W|) ≈ 2e-4 < 1e-2, so the
  // floor decides between SmoothQuant's 1e-5 (s kept) and DuQuant's 1e-2.
  w.layers[0].attn_norm[3] = 1e-8f;
  const model::MemoryWeights src(c, w);
  std::vector<std::vector<int>> windows = {{1, 5, 9, 13, 2, 7, 11, 40}, {3, 4, 8, 30, 21, 17, 6, 2}};
  QuantOptions o;
  o.method = Method::SmoothQuant;
  o.wbits = o.abits = kNoQuant;
  o.progress = false;
  const QuantizedModel qm = quantize_model(src, windows, o);
  const model::LayerWeights& in = w.layers[0];
  const model::LayerWeights& out = qm.model->weights().layers[0];
  auto same = [](const Mat& a, const Mat& b) {
    for (int64_t i = 0; i < a.size(); ++i)
      if (a.data()[i] != b.data()[i]) return false;
    return true;
  };
  EXPECT_TRUE(same(in.wo, out.wo)) << "o-projection input smoothed (SmoothQuant smooths only after a norm)";
  EXPECT_TRUE(same(in.w_down, out.w_down)) << "down-projection input smoothed";
  // W_v and W_up are scaled by columns only (s of their own input); rows — where an o-input or down-input
  // smoothing would fold — are not: every row has the same per-column factor as W_q / W_gate.
  auto columns_only = [](const Mat& a0, const Mat& a1, const Mat& ref0, const Mat& ref1) {
    for (int64_t i = 0; i < a0.rows(); ++i)
      for (int64_t j = 0; j < a0.cols(); ++j) {
        const double f = double(a1(i, j)) / a0(i, j), g = double(ref1(0, j)) / ref0(0, j);
        if (std::fabs(f - g) > 1e-4 * std::fabs(g)) return false;
      }
    return true;
  };
  EXPECT_TRUE(columns_only(in.wv, out.wv, in.wq, out.wq));
  EXPECT_TRUE(columns_only(in.w_up, out.w_up, in.w_gate, out.w_gate));
  // α = 0.5 by hand: s_j = √(max(a_j, 1e-5) / max_i |W_qkv[i][j]|) with a_j the FP maximum the pipeline reports
  // before smoothing, and s_j = attn_norm_j / folded attn_norm_j. Channel 3 (a_3 ~ 1e-8 → 1e-5) gives
  // s_3 ≈ 0.005, below DuQuant's 1e-2 floor: kept by SmoothQuant's 1e-5 clamp.
  const auto& amax = qm.report[0][static_cast<size_t>(model::Site::AttnIn)].absmax_fp;
  for (int64_t j : {0, 3, 5, 17}) {
    float wmax = 0;
    for (const Mat* m : {&in.wq, &in.wk, &in.wv})
      for (int64_t i = 0; i < m->rows(); ++i) wmax = std::max(wmax, std::fabs((*m)(i, j)));
    const double want = std::sqrt(std::max<double>(amax[static_cast<size_t>(j)], 1e-5) / wmax);
    const double s = double(in.attn_norm[static_cast<size_t>(j)]) / out.attn_norm[static_cast<size_t>(j)];
    EXPECT_NEAR(s, want, 1e-4 * want) << j;
  }
  EXPECT_LT(double(in.attn_norm[3]) / out.attn_norm[3], 0.9e-2);
}

}  // namespace
}  // namespace duq::calib
