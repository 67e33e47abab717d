// Norm tweaking (Li et al., "Norm Tweaking: High-performance Low-bit Quantization of Large Language Models"):
// after a block is quantized (transforms, weight codes and clips fixed), its two RMSNorm weights are adjusted
// so the quantized block's output on the quantized-propagated calibration windows matches the float block's
// output on the float-propagated windows (the same block-wise MSE as LWC, calib/block_grad.h). The norms are
// stored in the quantized file as before, so the tweak costs nothing at run time.
// Parametrisation: w = w₀ ⊙ (1 + δ), δ trained with Adam from 0 (a relative step, whatever the scale a folded
// smoothing gave w₀), one window per step. The tweaked norms are kept only where they lower the mean window
// loss; otherwise w₀ stays (loss_after = loss_before).
#pragma once
#include <vector>

#include "calib/block_grad.h"

namespace duq::calib {

struct NormTweakOptions {
  int epochs = 10;
  float lr = 1e-3f;
};

struct NormTweakResult {
  std::vector<float> attn_norm, ffn_norm;  // [D] the tweaked (or unchanged) weights
  double loss_before = 0, loss_after = 0;  // mean window loss at w₀ and at the kept weights
  int steps = 0;
};

// p: the quantized block as block_grad runs it (weights fake-quantized, site transforms, norms w₀);
// inputs: quantized-propagated block inputs [T×D] per window; targets: the float block's outputs.
NormTweakResult norm_tweak_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& p,
                                 const std::vector<Mat>& inputs, const std::vector<Mat>& targets,
                                 const NormTweakOptions& opts);

// Mean over the windows of block_loss_grad's loss (windows in parallel, summed in window order).
double mean_block_loss(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& p,
                       const std::vector<Mat>& inputs, const std::vector<Mat>& targets);

}  // namespace duq::calib
