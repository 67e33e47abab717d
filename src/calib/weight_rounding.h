// The rounding half of a method (calib/method.h's Rounding): once a site's transform is folded into its
// consumers (W·G⁻ᵀ [O×D] each), their weights are rounded to the method's grid, the codes stored in the
// block's LayerCodes and the weights replaced by their dequantized values (what the rest of the calibration
// forward multiplies by).
#pragma once
#include "calib/block_state.h"
#include "calib/options.h"
#include "quant/quant_spec.h"

namespace duq::calib {

// The weight grid of the method: per output channel (groups of --group-size input channels), clip --swc,
// asymmetric (DuQuant's reference); or QuaRot's (WeightGrid::QuaRotSymmetric): symmetric with GPTQ's full
// signed range, each row's clip found by GPTQ's MSE search (quant::mse_row_clips) instead of --swc.
quant::QuantSpec weight_spec(const QuantOptions& o);

// Rounds the consumers of `site` (already W·G⁻ᵀ, G = st) by the method's rounding: RTN; GPTQ or AdaDim with
// the Hessian of the site's transformed input over all calibration windows (b.windows); for LWC its starting
// clip (the clips are trained after the block, block_training.h). duquant-auto rounds in its own choice
// (auto_site.h). No-op at --wbits 16.
void round_site_weights(BlockState& b, model::Site site, const SiteTransform& st);

}  // namespace duq::calib
