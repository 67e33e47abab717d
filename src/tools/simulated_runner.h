// The --simulate path of tools/runner.h: a quantized file run as the calibration simulates it (float weights
// dequantized from the codes, fake-quantized activations; calib::simulated_from_file). Kept apart so that the
// runner, which serves inference on the integer engine, does not depend on the calibration layer.
#pragma once
#include "model/quant_model.h"
#include "tools/runner.h"

namespace duq::tools {

// Fills r.kind, forward, forward_batch, extend and keep from `data` (its tables widened first if read as stored).
void set_simulated(Runner& r, model::QuantModelData& data);

}  // namespace duq::tools
