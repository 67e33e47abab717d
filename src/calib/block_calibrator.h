// The calibration of one block on the search sequence [T×D], in stages along the block's forward
// (model::BlockPoint): for each linear input in order, a forward of the block that ends there (the sites
// before it already transformed and quantized by the runtime hooks, as at run time) gives the input the
// site actually sees; between stages the method's transform (calib/method.h's Transform) is searched or
// drawn on it, folded into the consumers (W·G⁻ᵀ) and their weights rounded (weight_rounding.h), so the next
// stage's forward sees the site as it will run. duquant-auto also chooses the layer's Q/K clip between the
// attention input and the o-projection input. Each site's stage pictures and output error go to its
// SiteReport. The forwards only run the runtime hooks and read-only observers: nothing changes the weights
// while a forward runs.
#pragma once
#include "calib/block_state.h"
#include "kernels/nn_ops.h"
#include "model/forward.h"

namespace duq::calib {

// Calibrates block b.layer on x, the search sequence at its input [T×D]; on return x is the output of the
// finished (quantized) block. kc, vc: [T × kv_dim] scratch caches.
void calibrate_block(BlockState& b, MatView x, Mat& kc, Mat& vc, const kernels::RopeTable& rope);

}  // namespace duq::calib
