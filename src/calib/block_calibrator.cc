#include "calib/block_calibrator.h"

#include "calib/auto_site.h"
#include "calib/site_search.h"
#include "calib/weight_rounding.h"
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

// x [T×D] with an online smoothing Λ undone: x·Λ⁻¹ (as is without one).
Mat smoothed(ConstMatView x, const std::vector<float>& smooth) {
  Mat xs(x);
  if (!smooth.empty())
    for (int64_t t = 0; t < xs.rows(); ++t)
      for (int64_t j = 0; j < xs.cols(); ++j) xs(t, j) /= smooth[static_cast<size_t>(j)];
  return xs;
}

}  // namespace

void BlockCalibrator::linear_input(int layer, Site site, MatView x) {
  SiteTransform& st = b_.site(site);
  SiteReport& rep = b_.report[static_cast<size_t>(site)];
  auto cons = site_consumers(b_.w, site);
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
  const auto& sm = st.smooth.empty() ? b_.smooth_folded[static_cast<size_t>(site)] : st.smooth;
  for (size_t j = 0; j < sm.size(); ++j) rep.absmax_raw[j] *= sm[j];
  if (b_.opts.method.transform == Transform::Auto) {
    // duquant-auto: transform, activation clip and per-row weight clips chosen on the calibration rows;
    // the stage pictures then start from the input of the chosen transform (after its online part).
    const Timer tw;
    choose_auto_site(b_, site, x, st, rep);
    b_.weight_seconds += tw.seconds();
    xin = smoothed(x, st.smooth);
    rep.absmax_before = column_absmax(xin);
  } else {
    search_transform(b_.opts, layer, site, xin, st);
    for (Mat* wm : cons) st.fold_weight(*wm);  // W·Λ·R₁·P·R₂ (Λ only when smoothing stays online)
    const Timer tw;
    round_site_weights(b_, site, st);
    b_.weight_seconds += tw.seconds();
  }
  record_stages(site, xin, st, rep);
  b_.rt.linear_input(layer, site, x);  // x ← Q(x·G)
  record_output_error(x, cons, ref, rep);
}

void BlockCalibrator::qk(int layer, MatView q, MatView k) {
  if (b_.opts.is_auto() && (b_.opts.abits != kNoQuant || b_.opts.kv() != kNoQuant)) choose_auto_qk_clip(b_);
  b_.rt.qk(layer, q, k);
}

}  // namespace duq::calib
