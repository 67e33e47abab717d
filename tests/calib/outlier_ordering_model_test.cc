// The paper's ordering on a model with planted normal and massive outliers (model/outliers.h), W4A4 with the
// paper's defaults (lac 0.9, swc 0.8, α 0.6 / SmoothQuant 0.5, block 128, 256 greedy steps; about a minute
// on one loaded core, mostly DuQuant's search): DuQuant < rotation < SmoothQuant < RTN for
//   (a) the down projection's relative output error (SiteReport::output_rel_error at DownIn, on the search
//       sequence, summed over the layers) — except SmoothQuant against RTN: as its own code, SmoothQuant leaves
//       the down-projection input (and its massive outliers) alone, so there it is RTN up to upstream changes
//       (measured 0.303 against RTN's 0.291); rotation is below both — and
//   (b) the KL divergence of the next-token distribution to the float model on random-token windows that
//       contain the trigger tokens.
// duquant-auto (issue 5) on the same model and windows: its KL divergence is at most 1% above DuQuant's.
// A scaled-down LLaMA-2-7B block (dim 512, hidden 1376 = the same 2.69 ratio, head size 128); the 4096/11008
// numbers come from bench/outlier_bench.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "calib/auto_report.h"
#include "calib/pipeline.h"
#include "model/outliers.h"
#include "model/synthetic.h"

namespace duq::calib {
namespace {

// Mean KL(P_a ‖ P_b) per row of logits [T×V] (double accumulation).
double mean_kld(const Mat& a, const Mat& b) {
  double total = 0;
  std::vector<double> la(static_cast<size_t>(a.cols())), lb(la.size());
  auto log_softmax = [](const float* row, int64_t n, std::vector<double>& out) {
    double mx = row[0];
    for (int64_t j = 1; j < n; ++j) mx = std::max(mx, double(row[j]));
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(double(row[j]) - mx);
    const double lse = mx + std::log(s);
    for (int64_t j = 0; j < n; ++j) out[static_cast<size_t>(j)] = double(row[j]) - lse;
  };
  for (int64_t t = 0; t < a.rows(); ++t) {
    log_softmax(a.row(t), a.cols(), la);
    log_softmax(b.row(t), b.cols(), lb);
    double kl = 0;
    for (size_t j = 0; j < la.size(); ++j) kl += std::exp(la[j]) * (la[j] - lb[j]);
    total += kl;
  }
  return total / static_cast<double>(a.rows());
}

TEST(OutlierOrdering, DuQuantBeatsRotationBeatsSmoothQuantBeatsRtnAndAutoKeepsUp) {
  model::ModelConfig c;
  c.dim = 512, c.hidden_dim = 1376, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 4, c.vocab_size = 256;
  c.max_seq_len = 256, c.tied_embeddings = false, c.rope_layout = model::RopeLayout::RotateHalf;
  model::ModelWeights w = model::random_weights(c, 1);
  model::OutlierSpec spec;
  spec.channels = 4;
  spec.scale = 20.f;
  spec.massive_tokens = {1, 13, 29};  // BOS, and two "delimiter" ids
  spec.massive_scale = 500.f;
  spec.seed = 1;
  const model::OutlierPlan plan = model::plant_outliers(c, w, spec);
  std::printf("%s; massive channel %d, G %.2f\n", spec.describe().c_str(), plan.massive_channel, plan.gate_value);
  const model::MemoryWeights src(c, std::move(w));
  const std::vector<int> inner = {13, 29};
  const auto calib = model::trigger_windows(16, 128, c.vocab_size, c.bos_id, inner, 0.02, 2);
  const auto eval = model::trigger_windows(4, 128, c.vocab_size, c.bos_id, inner, 0.02, 3);

  QuantizedModel fp = float_model(src);
  std::vector<Mat> ref;
  for (const auto& win : eval) {
    model::KVCache kc(c, static_cast<int>(win.size()));
    ref.push_back(fp.forward(win, 0, kc));
  }

  const Method methods[] = {Method::Rtn, Method::SmoothQuant, Method::Rotation, Method::DuQuant, Method::DuQuantAuto};
  double down_err[5], down_tok[5], kld[5];
  for (int i = 0; i < 5; ++i) {
    QuantOptions o;
    o.method = methods[i];
    o.steps = 256;
    o.progress = false;
    const QuantizedModel q = quantize_model(src, calib, o);
    down_err[i] = down_tok[i] = 0;
    for (int l = 0; l < c.n_layers; ++l) {
      const SiteReport& down = q.report[static_cast<size_t>(l)][static_cast<size_t>(model::Site::DownIn)];
      down_err[i] += down.output_rel_error / c.n_layers;
      down_tok[i] += down.output_token_rel_error / c.n_layers;
    }
    kld[i] = 0;
    for (size_t e = 0; e < eval.size(); ++e) {
      model::KVCache kc(c, static_cast<int>(eval[e].size()));
      kld[i] += mean_kld(ref[e], q.forward(eval[e], 0, kc)) / static_cast<double>(eval.size());
    }
    std::printf("%-12s down-proj rel error %.4f (layers:", method_name(methods[i]).c_str(), down_err[i]);
    for (int l = 0; l < c.n_layers; ++l)
      std::printf(" %.4f", q.report[static_cast<size_t>(l)][static_cast<size_t>(model::Site::DownIn)].output_rel_error);
    std::printf(")  per token %.4f  KLD %.4f  (%.1f s)\n", down_tok[i], kld[i], q.calib_seconds);
    if (methods[i] == Method::DuQuantAuto) std::printf("%s", auto_choices_table(q).c_str());
  }
  EXPECT_LT(down_err[2], down_err[0]) << "rotation vs rtn";
  for (int i = 0; i + 1 < 4; ++i) {
    if (methods[i + 1] != Method::SmoothQuant) {
      EXPECT_LT(down_err[i + 1], down_err[i]) << method_name(methods[i + 1]) << " vs " << method_name(methods[i]);
    }
    EXPECT_LT(kld[i + 1], kld[i]) << method_name(methods[i + 1]) << " vs " << method_name(methods[i]);
  }
  EXPECT_LE(kld[4], 1.01 * kld[3]) << "duquant-auto vs duquant";
  // Per token (no few massive tokens dominate) DuQuant's down-projection error is below RTN's as well.
  EXPECT_LT(down_tok[3], down_tok[0]) << "duquant vs rtn, per-token error";
}

}  // namespace
}  // namespace duq::calib
