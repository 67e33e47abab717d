#include "calib/block_calibrator.h"

#include "calib/auto_site.h"
#include "calib/gptq_sites.h"
#include "calib/site_search.h"
#include "calib/weight_rounding.h"
#include "calib/wide_channels.h"
#include "core/progress.h"
#include "kernels/gemm_f32.h"

namespace duq::calib {

using model::Site;

namespace {

// The method's transform of one input, searched / drawn on x [T×D] (after any online smoothing) into st.
// Smoothing itself (SmoothQuant's, DuQuant's) was set up at the block's start (smoothing_fold.h).
void search_transform(const QuantOptions& opts, int layer, Site site, ConstMatView x, SiteTransform& st) {
  switch (opts.method.transform) {
    case Transform::None:
    case Transform::Smooth: return;
    case Transform::Rotation: return draw_hadamard(opts, layer, site, x.cols, st);
    case Transform::DuQuant: st.duquant = search_duquant(opts, layer, site, x); return;
    case Transform::Auto: return;  // chosen together with its rounding (auto_site.h)
  }
}

// x [T×D] after an online smoothing Λ: x·Λ⁻¹ (a copy of x without one).
Mat smoothed(ConstMatView x, const std::vector<float>& smooth) {
  Mat xs(x);
  if (!smooth.empty())
    for (int64_t t = 0; t < xs.rows(); ++t)
      for (int64_t j = 0; j < xs.cols(); ++j) xs(t, j) /= smooth[static_cast<size_t>(j)];
  return xs;
}

// One site's stage: x [T×D] is its input as the forward computed it (not yet transformed).
void calibrate_site(BlockState& b, Site site, MatView x) {
  const int layer = b.layer;
  SiteTransform& st = b.site(site);
  SiteReport& rep = b.report[static_cast<size_t>(site)];
  auto cons = site_consumers(b.w, site);
  // Reference output of the float layers on this input (x·Wᵀ is unchanged by any folded smoothing).
  std::vector<Mat> ref;
  for (Mat* wm : cons) {
    ref.emplace_back(x.rows, wm->rows());
    kernels::matmul_xwt(x, *wm, ref.back());
  }
  // The search sees the input after online smoothing (GQA o input), as the transform will.
  Mat xin = smoothed(x, st.smooth);
  rep.absmax_before = column_absmax(xin);
  // The smoothing alone, undone, for the "before smoothing" picture: x·Λ (folded Λ is not in x any more).
  rep.absmax_raw = rep.absmax_before;
  const auto& sm = st.smooth.empty() ? b.smooth_folded[static_cast<size_t>(site)] : st.smooth;
  for (size_t j = 0; j < sm.size(); ++j) rep.absmax_raw[j] *= sm[j];
  if (b.opts.method.transform == Transform::Auto) {
    // duquant-auto: transform, activation clip and per-row weight clips chosen on the calibration rows;
    // the stage pictures then start from the input of the chosen transform (after its online part).
    const Timer tw;
    choose_auto_site(b, site, x, st, rep);
    b.weight_seconds += tw.seconds();
    xin = smoothed(x, st.smooth);
    rep.absmax_before = column_absmax(xin);
  } else {
    search_transform(b.opts, layer, site, xin, st);
    for (Mat* wm : cons) st.fold_weight(*wm);  // W·Λ·R₁·P·R₂ (Λ only when smoothing stays online)
    std::vector<Mat> held;
    if (b.opts.wide_channels > 0) {
      st.wide = choose_wide_channels(x, st, b.opts.wide_channels, layer, site);
      held = take_wide_columns(cons, st.wide);
    }
    const Timer tw;
    round_site_weights(b, site, st);
    if (!st.wide.empty()) finish_wide_columns(b, site, st.wide, held);
    b.weight_seconds += tw.seconds();
  }
  record_stages(site, xin, st, rep);
  b.rt.linear_input(layer, site, x);  // x ← Q(x·G), what the consumers now multiply
  record_output_error(x, cons, ref, rep);
}

}  // namespace

void calibrate_block(BlockState& b, MatView x, Mat& kc, Mat& vc, const kernels::RopeTable& rope) {
  const std::vector<Mat> seq{Mat(x)};
  for (int s = 0; s < model::kNumSites; ++s) {
    const Site site = static_cast<Site>(s);
    // The attention input is final, the o-projection input (after Q/K) not yet: the key center (from all
    // windows' keys, quantized-propagated), then duquant-auto's Q/K clip on the centered keys.
    if (site == Site::AttnOut && b.opts.k_center)
      b.rt.set_k_center(b.layer, key_mean(b.cfg, b.layer, b.w, b.rt, *b.windows, *b.rope));
    if (site == Site::AttnOut && b.opts.is_auto() && (b.opts.abits != kNoQuant || b.opts.kv() != kNoQuant))
      choose_auto_qk_clip(b);
    Mat xs;
    for_each_site_input(b.cfg, b.layer, b.w, b.rt, site, seq, rope, [&](ConstMatView v) { xs = Mat(v); });
    calibrate_site(b, site, xs);
  }
  // The finished block on the search sequence: the next block's search input.
  const model::FloatLinears lin(b.w);
  model::block_forward(b.cfg, b.layer, b.w.attn_norm, b.w.ffn_norm, lin, x, 0, kc, vc, rope, &b.rt);
}

}  // namespace duq::calib
