// The calibration forward of one block: the search sequence [T×D] runs through the block with these hooks.
// At the first sight of each linear input the method's transform (calib/method.h's Transform) is searched
// or drawn on the input it actually sees (upstream sites already transformed and quantized), folded into the
// consumers (W·G⁻ᵀ) and their weights rounded (weight_rounding.h); then the input is transformed and
// quantized as the runtime hooks do before the forward continues, so the next site sees what it will see at
// run time. Each site's stage pictures and output error go to its SiteReport.
#pragma once
#include "calib/block_state.h"
#include "model/forward.h"

namespace duq::calib {

class BlockCalibrator : public model::ForwardHooks {
 public:
  explicit BlockCalibrator(BlockState& b) : b_(b) {}
  void linear_input(int layer, model::Site site, MatView x) override;
  void qk(int layer, MatView q, MatView k) override;
  void v(int layer, MatView v) override { b_.rt.v(layer, v); }

 private:
  BlockState& b_;
};

}  // namespace duq::calib
