// What the calibration of one block works on, shared by its steps (calib/pipeline.cc runs them in order):
//   smoothing (smoothing_fold) → per linear input, as the search sequence reaches it: the transform
//   (block_calibrator, site_search; duquant-auto: auto_site) and the rounding of its consumers
//   (weight_rounding) → training with the transforms fixed (block_training: LWC, learned rotations, norm
//   tweaking).
#pragma once
#include <array>
#include <optional>
#include <vector>

#include "calib/adadim_module.h"
#include "calib/layer_codes.h"
#include "calib/options.h"
#include "calib/sim_quant.h"
#include "calib/site_report.h"
#include "kernels/nn_ops.h"
#include "model/forward.h"
#include "quant/gptq.h"

namespace duq::calib {

struct BlockState {
  BlockState(const model::ModelConfig& cfg, const QuantOptions& opts, int layer, SimQuantHooks& rt,
             model::LayerWeights& w, LayerCodes& codes, std::array<SiteReport, model::kNumSites>& report)
      : cfg(cfg), opts(opts), layer(layer), rt(rt), w(w), codes(codes), report(report) {}

  const model::ModelConfig& cfg;
  const QuantOptions& opts;
  int layer;
  SimQuantHooks& rt;       // the runtime hooks; this block's SiteTransforms are filled in as they are found
  model::LayerWeights& w;  // smoothed at the start, then each site's consumers become dequantized W·G⁻ᵀ
  LayerCodes& codes;       // the integer codes, filled in site by site
  std::array<SiteReport, model::kNumSites>& report;
  // All calibration windows [L×D] at this block's input, propagated through the quantized blocks (GPTQ /
  // AdaDim Hessians, duquant-auto's rows); null when the method needs none.
  const std::vector<Mat>* windows = nullptr;
  const kernels::RopeTable* rope = nullptr;

  // Smoothing factors folded into the block's norms / weights, per site (empty: none or online in st.smooth).
  std::array<std::vector<float>, model::kNumSites> smooth_folded;
  // AdaDim's official per-module choice for this block (unset: per linear, or not AdaDim).
  std::optional<AdaDimModuleChoice> adadim_module;
  // AdaDim+GPTQ per linear: Hessians of the two halves of the windows (cross-validated choice).
  std::array<quant::Hessian, 2> adadim_folds;
  // LWC: the transformed float weights (W·G⁻ᵀ before rounding), in LinearIndex order.
  std::array<Mat, kNumLinears> folded;

  // Summaries for QuantizedModel: AdaDim's per-IC choices / linears, duquant-auto's GPTQ-rounded rows / all
  // rows, and the seconds spent rounding weights (and on duquant-auto's choice) inside the search forward.
  int adadim_per_ic = 0, adadim_linears = 0, auto_gptq_rows = 0, auto_rows = 0;
  double weight_seconds = 0;

  SiteTransform& site(model::Site s) { return rt.sites()[static_cast<size_t>(layer)][static_cast<size_t>(s)]; }
};

}  // namespace duq::calib
