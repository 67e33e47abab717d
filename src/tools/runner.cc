#include "tools/runner.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_checks.h"
#include "formats/file_kind.h"
#include "model/bpe_tokenizer.h"
#include "model/byte_bpe_tokenizer.h"
#include "model/gguf_source.h"
#include "model/gguf_tokenizer.h"
#include "model/int_engine.h"
#include "model/quant_model.h"
#include "model/sp_tokenizer.h"
#include "tools/simulated_runner.h"

namespace duq::tools {

namespace fs = std::filesystem;

namespace {
std::unique_ptr<model::Tokenizer> tokenizer_from_file_data(const model::QuantModelData& d, const std::string& path) {
  const std::string src = path + " (embedded tokenizer)";
  if (d.tokenizer_kind == "sentencepiece") return model::sentencepiece_tokenizer_from_bytes(d.tokenizer_bytes, src);
  if (d.tokenizer_kind == "llama2c") return model::BpeTokenizer::from_bytes(d.tokenizer_bytes, src);
  if (d.tokenizer_kind == "tokenizer.json")
    return model::tokenizer_json_from_bytes(d.tokenizer_bytes, src, d.cfg.bos_id, d.cfg.eos_id);
  if (d.tokenizer_kind == "gguf") return model::tokenizer_from_gguf_kv(d.tokenizer_kv, src);
  fail(path, ": unknown embedded tokenizer kind '", d.tokenizer_kind, "'");
}
}  // namespace

void Runner::ensure_context(int n, const std::string& what) {
  if (n <= cfg.max_seq_len) return;
  if (!cfg.context_extendable || !extend)
    fail(what, " exceeds the model's maximum context of ", cfg.max_seq_len, " tokens");
  std::fprintf(stderr,
               "warning: %s exceeds the model's training context of %d tokens (its GGUF context_length); "
               "running it anyway as llama.cpp does (RoPE extrapolates)\n",
               what.c_str(), cfg.max_seq_len);
  extend(n);
  cfg.max_seq_len = n;
}

Runner load_runner(const ModelArgs& a, bool simulate, bool exact_rotations) {
  Runner r;
  if (!fs::is_directory(a.model) && model::is_gguf_file(a.model) &&
      model::gguf_kind(a.model) == model::GgufKind::Quantized) {
    // The integer engine runs the tables in their stored type (Q8_0 embedding, F16 classifier): read them so,
    // never widened, unless the simulation will run (it multiplies f32 tables).
    auto data = std::make_unique<model::QuantModelData>(
        model::read_quant_model(a.model, simulate ? model::TableLoad::Widened : model::TableLoad::AsStored));
    r.cfg = data->cfg;
    if (a.tokenizer.empty()) {
      r.tok = tokenizer_from_file_data(*data, a.model);
    } else {
      r.tok = model::load_tokenizer(a.tokenizer, r.cfg.bos_id, r.cfg.eos_id);
    }
    if (r.tok->vocab_size() != r.cfg.vocab_size)
      fail(a.tokenizer.empty() ? a.model : a.tokenizer, ": tokenizer has ", r.tok->vocab_size(),
           " tokens but the model's vocabulary is ", r.cfg.vocab_size);
    const std::string bits = "W" + std::to_string(data->q.wbits) + "A" + std::to_string(data->q.abits);
    if (simulate || data->q.abits == 16) {
      set_simulated(r, *data);  // tools/simulated_runner.h (the calibration layer's simulation)
    } else {
      auto im =
          std::make_shared<model::IntModel>(model::make_int_model(std::move(data), model::fp32_transform_factory(),
                                                                  /*quantized_kv=*/true, exact_rotations));
      r.kind = "integer " + bits + " (" + im->data->q.method + ")";
      r.forward = [im](std::span<const int> t, int pos, model::KVCache& c, bool last) {
        return im->forward(t, pos, c, last);
      };
      r.forward_batch = [im](std::span<const model::SeqChunk> ch) { return im->forward_batch(ch); };
      r.extend = [im](int n) { im->model->set_max_seq_len(n); };
      r.keep = im;
    }
    return r;
  }
  if (simulate) fail("--simulate applies to quantized .gguf models; ", a.model, " is a float model");
  auto m = std::make_shared<model::Model>(model::Model::load(a.model));
  r.cfg = m->config();
  r.tok = load_tokenizer_for(a, r.cfg);
  r.kind = "float";
  r.forward = [m](std::span<const int> t, int pos, model::KVCache& c, bool last) {
    return m->forward(t, pos, c, nullptr, last);
  };
  r.forward_batch = [m](std::span<const model::SeqChunk> ch) { return m->forward_batch(ch); };
  r.extend = [m](int n) { m->set_max_seq_len(n); };
  r.keep = m;
  return r;
}

EmbeddedTokenizer tokenizer_file_for(const ModelArgs& a, const model::ModelConfig& cfg) {
  const TokenizerLocation t = find_tokenizer(a, cfg);
  EmbeddedTokenizer e;
  e.kind = t.kind;
  if (t.kind == "gguf") {
    e.kv = model::gguf_tokenizer_kv(formats::GgufFile::open(t.path));
    return e;
  }
  std::ifstream f(t.path, std::ios::binary);
  if (!f) fail(t.path, ": cannot read tokenizer");
  std::stringstream ss;
  ss << f.rdbuf();
  e.bytes = ss.str();
  return e;
}

}  // namespace duq::tools
