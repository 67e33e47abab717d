// AdaDim's per-IC / per-OC choice as its official code makes it: per decoder block and per MODULE
// (attention: q, k, v, o; MLP: gate, up, down), not per linear. Each module's linears are rounded to nearest
// with per-output-channel groups (Axis::kRow) and, separately, with per-input-channel groups (Axis::kColumn);
// the module's output (the o-projection output for attention, the down-projection output for the MLP) on the
// calibration windows is compared with the float block's, the other module kept float; the axis with the
// lower relative error ‖ŷ − y‖²/‖y‖² is the module's. The weights are then rounded in that dimension (RTN,
// or GPTQ with act-order for adadim+gptq). `--adadim-per-linear` keeps duquant's earlier per-linear choice,
// which is better for RTN and worse for GPTQ at 3 bits on stories260K (32×256 calibration, 60 eval windows
// of 512, swc 0.8; perplexity per module / per linear): adadim W3A16 7.143 / 6.967, W4A16 4.820 / 4.818;
// adadim+gptq W3A16 6.012 / 6.116, W4A16 4.684 / 4.673 (gptq alone 6.186, 4.604; rtn 7.143, 4.887).
#pragma once
#include <array>
#include <vector>

#include "kernels/nn_ops.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/quant_spec.h"

namespace duq::calib {

struct AdaDimModuleChoice {
  std::array<quant::Axis, 2> axis{quant::Axis::kRow, quant::Axis::kRow};  // [attention, MLP]
  std::array<std::array<double, 2>, 2> rel_error{};                       // [module][per-OC, per-IC]
};

// windows: the block's inputs [L×D] (quantized-propagated); spec: the weight grid (its axis is ignored).
AdaDimModuleChoice adadim_module_choice(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                                        const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                                        const quant::QuantSpec& spec);

}  // namespace duq::calib
