#include "tools/quant_file.h"

#include <cstdio>

#include "calib/export.h"
#include "core/error.h"

namespace duq::tools {

TableTypes resolve_table_types(const std::string& embed, const std::string& output, bool embed_given,
                               const model::ModelConfig& cfg, bool notes) {
  TableTypes t;
  t.embed = model::parse_table_type(embed, "--embed-type");
  t.output = model::parse_table_type(output, "--output-type");
  if (t.output == model::TableType::Q8_0)
    fail("--output-type: the classifier stays floating point (f32 or f16); q8_0 is for the embedding table");
  if (cfg.tied_embeddings && !embed_given) {
    // One table is both embedding and classifier: keep it floating point like the classifier.
    t.embed = t.output;
    if (notes)
      std::fprintf(stderr,
                   "note: tied embeddings: the shared embedding/classifier table is stored as %s "
                   "(--output-type); pass --embed-type to choose otherwise\n",
                   model::table_type_name(t.embed));
  }
  if (t.embed == model::TableType::Q8_0 && cfg.dim % 32 != 0) {
    t.embed = model::TableType::F16;
    if (notes)
      std::fprintf(stderr, "note: dim %d is not a multiple of 32 (the Q8_0 block): token embedding stored as f16\n",
                   cfg.dim);
  }
  return t;
}

void write_quantized_file(const calib::QuantizedModel& qm, EmbeddedTokenizer tok_file, const TableTypes& types,
                          const std::string& out, Replace replace) {
  write_quantized_file(calib::to_file_data(qm, "", ""), std::move(tok_file), types, out, replace);
}

void write_quantized_file(model::QuantModelData data, EmbeddedTokenizer tok_file, const TableTypes& types,
                          const std::string& out, Replace replace) {
  data.tokenizer_kind = std::move(tok_file.kind);
  data.tokenizer_bytes = std::move(tok_file.bytes);
  data.tokenizer_kv = std::move(tok_file.kv);
  data.embed_type = types.embed;
  data.lm_head_type = types.output;
  model::write_quant_model(out, data, replace);
}

bool file_can_hold(const calib::QuantOptions& o, std::string* why) {
  std::string r;
  if (o.method == calib::Method::Fp) r = "--method fp has nothing to quantize";
  else if (o.wbits == calib::kNoQuant) r = "--wbits 16 keeps float weights: nothing to store in a quantized file";
  else if (o.group_size > 0 || o.uses_adadim())
    r = "grouped or per-input-channel weights (--group-size, adadim) run simulated only: the quantized file and "
        "the integer kernels hold per-output-channel weights; evaluate them with `duquant compare`";
  if (why) *why = r;
  return r.empty();
}

}  // namespace duq::tools
