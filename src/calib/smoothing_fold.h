// Smoothing (spec §2 step 1) folded into the block's weights so that it costs nothing at run time:
//   AttnIn  (q, k, v):   attn-norm weight ÷ s, W_q, W_k, W_v columns × s
//   FfnIn   (gate, up):  ffn-norm weight ÷ s, W_gate, W_up columns × s
//   DownIn  (down):      W_up rows ÷ s (silu(g)⊙u is linear in u), W_down columns × s
//   AttnOut (o) with MHA: W_v rows ÷ s (attention output is linear in v), W_o columns × s
//   AttnOut with GQA: one V channel feeds several heads' outputs, W_v cannot absorb s → returns false and
//                     the caller applies x·Λ⁻¹ online (SiteTransform::smooth).
#pragma once
#include <span>
#include <vector>

#include "model/config.h"
#include "model/forward.h"
#include "model/weights.h"

namespace duq::calib {

// Folds s into w for `site`; false (w untouched) when it cannot be folded (GQA o-projection input): then
// the caller applies Λ online (SiteTransform::smooth divides x and multiplies W_o's columns).
bool fold_smoothing(const model::ModelConfig& c, model::Site site, std::span<const float> s, model::LayerWeights& w);

// Per input channel max |W[:,j]| over the given consumer weights [O×D].
std::vector<float> weight_column_absmax(std::initializer_list<const Mat*> consumers);

}  // namespace duq::calib
