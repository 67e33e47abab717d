// config.json parsing (model::parse_hf_config) on arbitrary text. A config it accepts must be valid
// (ModelConfig::validate), and writing it back with hf_config_json must parse to the same config.
#include <string>

#include "core/error.h"
#include "formats/dtype.h"
#include "fuzz_util.h"
#include "model/config.h"
#include "model/hf_source.h"

using namespace duq;

namespace {
bool same(const model::ModelConfig& a, const model::ModelConfig& b) {
  return a.dim == b.dim && a.hidden_dim == b.hidden_dim && a.n_layers == b.n_layers && a.n_heads == b.n_heads &&
         a.n_kv_heads == b.n_kv_heads && a.vocab_size == b.vocab_size && a.max_seq_len == b.max_seq_len &&
         a.rope_theta == b.rope_theta && a.rms_eps == b.rms_eps && a.tied_embeddings == b.tied_embeddings &&
         a.rope_layout == b.rope_layout && a.bos_id == b.bos_id && a.eos_id == b.eos_id;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  model::ModelConfig c;
  try {
    c = model::parse_hf_config(text, "fuzz/config.json");
  } catch (const Error&) {
    return 0;
  }
  c.validate("accepted config");  // throws (uncaught: a crash) if the parser let an invalid config through
  const std::string back = model::hf_config_json(c, formats::DType::F32);
  model::ModelConfig c2;
  try {
    c2 = model::parse_hf_config(back, "written config.json");
  } catch (const Error& e) {
    std::fprintf(stderr, "round trip rejected: %s\n%s\n", e.what(), back.c_str());
    fuzz::property_failed("hf_config_json output parses");
  }
  FUZZ_REQUIRE(same(c, c2));
  return 0;
}
