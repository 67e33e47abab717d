// Training of one block after its transforms are fixed (the search forward is done), on the block loss
// mean((block_q(x_q) − block_fp(x_fp))²): x_q [L×D] the calibration windows propagated through the quantized
// blocks, fp_out [L×D] the float block's outputs on the float-propagated windows.
//   LWC (Rounding::Lwc): the per-row clips of the seven linears, then their final codes;
//   duquant+learn (Rounding::LearnedRotation): the same jointly with a rotation after each input's R₂,
//   folded into R₂; norm tweaking (--norm-tweak, any method): the block's two RMSNorm weights.
#pragma once
#include <vector>

#include "calib/block_state.h"

namespace duq::calib {

// Block losses before and after the training (summed over the blocks into QuantizedModel).
struct BlockLoss {
  double first = 0, last = 0;
};

// LWC (or, for duquant+learn, learned rotations + LWC) of the block's weights b.folded (W·G⁻ᵀ before
// rounding): the final codes and dequantized weights stored; the learned rotations folded into the sites.
BlockLoss train_weight_clips(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out);

// Norm tweaking of the finished block (its own activation and Q/K clips): the norms replaced in b.w.
BlockLoss tweak_norms(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out);

}  // namespace duq::calib
