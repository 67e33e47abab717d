// Between the calibration pipeline's QuantizedModel and the quantized model file's QuantModelData:
// packing the weight codes and transforms for the integer engine, and rebuilding the simulated model
// from a file (`--simulate`).
#pragma once
#include <memory>
#include <string>

#include "calib/pipeline.h"
#include "model/int_engine.h"
#include "model/quant_model.h"

namespace duq::calib {

// QuantizedModel → file contents. tokenizer_kind/bytes: the tokenizer file as it came. Throws duq::Error
// for models the file cannot hold (float weights, W16).
model::QuantModelData to_file_data(const QuantizedModel& qm, const std::string& tokenizer_kind,
                                   std::string tokenizer_bytes);

// File contents → the simulated model (float weights dequantized from the codes, SimQuantHooks).
QuantizedModel simulated_from_file(const model::QuantModelData& d);

// Rebuilds transforms the model layer cannot (randomized Hadamard) for model::make_int_model.
model::TransformFactory transform_factory();

}  // namespace duq::calib
