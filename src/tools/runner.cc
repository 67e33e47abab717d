#include "tools/runner.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "calib/export.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "formats/file_kind.h"
#include "model/bpe_tokenizer.h"
#include "model/int_engine.h"
#include "model/quant_model.h"
#include "model/sp_tokenizer.h"

namespace duq::tools {

namespace fs = std::filesystem;

namespace {
std::unique_ptr<model::Tokenizer> tokenizer_from_file_data(const model::QuantModelData& d, const std::string& path) {
  const std::string src = path + " (embedded tokenizer)";
  if (d.tokenizer_kind == "sentencepiece") return model::sentencepiece_tokenizer_from_bytes(d.tokenizer_bytes, src);
  if (d.tokenizer_kind == "llama2c") return model::BpeTokenizer::from_bytes(d.tokenizer_bytes, src);
  fail(path, ": unknown embedded tokenizer kind '", d.tokenizer_kind, "'");
}
}  // namespace

Runner load_runner(const ModelArgs& a, bool simulate, bool exact_rotations) {
  Runner r;
  if (formats::sniff_model_file(a.model) == formats::FileKind::GgufDuquant) {
    auto data = std::make_unique<model::QuantModelData>(model::read_quant_model(a.model));
    r.cfg = data->cfg;
    if (a.tokenizer.empty()) {
      r.tok = tokenizer_from_file_data(*data, a.model);
    } else {
      r.tok = model::load_tokenizer(a.tokenizer);
    }
    if (r.tok->vocab_size() != r.cfg.vocab_size)
      fail(a.tokenizer.empty() ? a.model : a.tokenizer, ": tokenizer has ", r.tok->vocab_size(),
           " tokens but the model's vocabulary is ", r.cfg.vocab_size);
    const std::string bits = "W" + std::to_string(data->q.wbits) + "A" + std::to_string(data->q.abits);
    if (simulate || data->q.abits == 16) {
      auto sim = std::make_shared<calib::QuantizedModel>(calib::simulated_from_file(*data));
      r.kind = "simulated " + bits + " (" + data->q.method + ")";
      r.forward = [sim](std::span<const int> t, int pos, model::KVCache& c, bool last) {
        return sim->forward(t, pos, c, last);
      };
      r.keep = sim;
    } else {
      auto im = std::make_shared<model::IntModel>(model::make_int_model(std::move(data), calib::transform_factory(),
                                                                                  /*quantized_kv=*/true, exact_rotations));
      r.kind = "integer " + bits + " (" + im->data->q.method + ")";
      r.forward = [im](std::span<const int> t, int pos, model::KVCache& c, bool last) {
        return im->forward(t, pos, c, last);
      };
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
  r.keep = m;
  return r;
}

std::pair<std::string, std::string> tokenizer_file_for(const ModelArgs& a, const model::ModelConfig& cfg) {
  std::string path = a.tokenizer;
  if (path.empty()) {
    fs::path m(a.model);
    fs::path dir = fs::is_directory(m) ? m : m.parent_path();
    for (auto cand : {dir / "tokenizer.model", dir / "tokenizer.bin", dir / ("tok" + std::to_string(cfg.vocab_size) + ".bin")})
      if (fs::exists(cand)) {
        path = cand.string();
        break;
      }
  }
  if (path.empty()) fail("no tokenizer found next to ", a.model, "; pass --tokenizer");
  return {fs::path(path).extension() == ".model" ? "sentencepiece" : "llama2c", read_regular_file(path, "tokenizer")};
}

}  // namespace duq::tools
