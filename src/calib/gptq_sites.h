// Per-site Hessians for GPTQ / AdaDim inside the block-by-block pipeline: every calibration window, as
// propagated through the already-quantized blocks, runs through block `layer` (the sites before `site`
// already transformed and quantized, as the runtime hooks do) up to `site`; there its input x is transformed
// (x·G, the transform the consumers' weights W·G⁻ᵀ pair with) and H = 2·Σ(xG)ᵀ(xG)/N accumulated. The rest
// of the block is not run (the forward is cut at the site, like the reference's Catcher).
#pragma once
#include <vector>

#include "calib/sim_quant.h"
#include "calib/site_transform.h"
#include "kernels/nn_ops.h"
#include "model/forward.h"
#include "model/weights.h"
#include "quant/gptq.h"

namespace duq::calib {

// after_act_quant: accumulate Q_a(x·G) (what the linear multiplies) instead of x·G.
quant::Hessian site_hessian(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, model::Site site, const SiteTransform& st,
                            const std::vector<Mat>& windows, const kernels::RopeTable& rope, bool after_act_quant);

}  // namespace duq::calib
