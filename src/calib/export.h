// Between the calibration pipeline's QuantizedModel and the quantized model file's QuantModelData:
// packing the weight codes and transforms for the integer engine, and rebuilding the simulated model
// from a file (`--simulate`).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "calib/pipeline.h"
#include "model/online_transform_fp32.h"
#include "model/quant_model.h"

namespace duq::calib {

// The file's settings (method, bits, clips, per-layer Q/K clips, the Q/K rotation) of a finished calibration;
// no tables, layers or tokenizer. Throws duq::Error for models the file cannot hold (float weights, W16).
model::QuantModelData file_settings(const QuantizedModel& qm);

// One finished block in file form: folded norms, the seven codes packed for the integer kernels, the online
// transforms. Throws duq::Error for codes the file cannot hold (per-group / per-input-channel).
model::QuantLayer pack_layer(const model::LayerWeights& w, const LayerCodes& codes, const SiteTransforms& sites);

// QuantizedModel → file contents. tokenizer_kind/bytes: the tokenizer file as it came. Throws duq::Error
// for models the file cannot hold (float weights, W16).
model::QuantModelData to_file_data(const QuantizedModel& qm, const std::string& tokenizer_kind,
                                   std::string tokenizer_bytes);

// quantize_model streamed into file contents: each finished block packed at once (pack_layer) and its float
// weights and codes freed, so memory holds one block in f32 plus the packed blocks (issue 15: a 7B model in a
// few GB). The tables are read from `src` again afterwards (the pipeline changes neither). `qm` receives the
// calibration's result without model and codes (reports, choices, stage times). The file is byte for byte
// what to_file_data(quantize_model(...)) gives; the tokenizer fields are the caller's to fill.
model::QuantModelData quantize_to_file_data(const model::WeightSource& src,
                                            const std::vector<std::vector<int>>& windows, const QuantOptions& opts,
                                            QuantizedModel& qm);

// File contents → the simulated model (float weights dequantized from the codes, SimQuantHooks).
QuantizedModel simulated_from_file(const model::QuantModelData& d);

}  // namespace duq::calib
