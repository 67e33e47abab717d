// Writing a calibrated model as a quantized model file, shared by `quantize` and by `compare --tasks`
// (which scores each method on the file `quantize` would write, so its task columns equal `eval` on it).
#pragma once
#include <string>

#include "calib/pipeline.h"
#include "core/atomic_file.h"
#include "model/quant_model.h"
#include "tools/runner.h"

namespace duq::tools {

// The storage of the two float tables (docs/quantized-format.md).
struct TableTypes {
  model::TableType embed = model::kDefaultEmbedType, output = model::kDefaultOutputType;
};

// --embed-type / --output-type resolved against the model: a tied table follows --output-type unless
// --embed-type was given (embed_given); Q8_0 needs dim % 32 == 0, else the embedding falls back to F16.
// Notes the adjustments on stderr when `notes`.
TableTypes resolve_table_types(const std::string& embed, const std::string& output, bool embed_given,
                               const model::ModelConfig& cfg, bool notes = true);

// qm (quantized weights, not grouped/per-IC) with its tokenizer embedded, written to `out`.
void write_quantized_file(const calib::QuantizedModel& qm, EmbeddedTokenizer tok_file, const TableTypes& types,
                          const std::string& out, Replace replace);

// Whether the file can hold qm (per-output-channel quantized weights), with the reason when it cannot.
bool file_can_hold(const calib::QuantOptions& o, std::string* why = nullptr);

}  // namespace duq::tools
