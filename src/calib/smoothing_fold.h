// Smoothing (spec §2 step 1) folded into the block's weights so that it costs nothing at run time:
//   AttnIn  (q, k, v):   attn-norm weight ÷ s, W_q, W_k, W_v columns × s
//   FfnIn   (gate, up):  ffn-norm weight ÷ s, W_gate, W_up columns × s
//   DownIn  (down):      W_up rows ÷ s (silu(g)⊙u is linear in u), W_down columns × s
//   AttnOut (o) with MHA: W_v rows ÷ s (attention output is linear in v), W_o columns × s
//   AttnOut with GQA: one V channel feeds several heads' outputs, W_v cannot absorb s → returns false and
//                     the caller applies x·Λ⁻¹ online (SiteTransform::smooth).
#pragma once
#include <array>
#include <span>
#include <vector>

#include "calib/options.h"
#include "calib/sim_quant.h"
#include "model/config.h"
#include "model/forward.h"
#include "model/weights.h"

namespace duq::calib {

// Folds s into w for `site`; false (w untouched) when it cannot be folded (GQA o-projection input): then
// the caller applies Λ online (SiteTransform::smooth divides x and multiplies W_o's columns).
bool fold_smoothing(const model::ModelConfig& c, model::Site site, std::span<const float> s, model::LayerWeights& w);

// Per input channel max |W[:,j]| over the given consumer weights [O×D].
std::vector<float> weight_column_absmax(std::initializer_list<const Mat*> consumers);

// The weight side of the smoothing factors at a site: per input channel max |W| over all its consumers
// (SmoothQuant) or, as DuQuant's reference code, over W_q (attention input) / W_up (FFN input) only.
std::vector<float> smoothing_weight_max(model::Site site, const model::LayerWeights& w, bool all_consumers);

// The method's smoothing of one block (Transform::Smooth, or DuQuant's and duquant-auto's unless
// --no-smooth): factors s [D_site] from the FP activation maxima act_max and the (original) weights, with α
// = opts.smoothing_alpha(), folded where they can be (else kept online in sites[s].smooth); the folded ones
// also go to *folded (per site, empty where none). SmoothQuant as its own code runs LLaMA (smooth.py,
// smooth_ln_fcs_llama_like): only the inputs that follow a norm (q/k/v after the attention norm, gate/up
// after the FFN norm), w_j = max over all of their consumers, s clamped at 1e-5. DuQuant smooths all four
// inputs (w_j from W_q / W_up as its reference code) with a 1e-2 floor.
void smooth_block(const model::ModelConfig& cfg, const QuantOptions& opts,
                  const std::array<std::vector<float>, model::kNumSites>& act_max, model::LayerWeights& w,
                  SiteTransforms& sites, std::array<std::vector<float>, model::kNumSites>* folded);

}  // namespace duq::calib
