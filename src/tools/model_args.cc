#include "tools/model_args.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model/quant_model.h"

namespace duq::tools {

namespace fs = std::filesystem;

void ModelArgs::add(CLI::App& app) {
  app.add_option("-m,--model", model,
                 "model: llama2.c checkpoint (.bin), Hugging Face directory (config.json + safetensors), llama.cpp GGUF "
                 "(F32/F16/BF16/Q8_0) or a quantized duquant .gguf (ppl, generate)")
      ->required();
  app.add_option("-t,--tokenizer", tokenizer,
                 "tokenizer: llama2.c tokenizer.bin, SentencePiece .model, Hugging Face tokenizer.json or a GGUF file's "
                 "vocabulary (default: the GGUF model's own, or found next to the model)");
}

namespace {
std::string kind_of(const std::string& path) {
  const auto ext = fs::path(path).extension();
  if (ext == ".model") return "sentencepiece";
  if (ext == ".json") return "tokenizer.json";
  if (!fs::is_directory(path) && model::is_gguf_file(path)) return "gguf";
  return "llama2c";
}
}  // namespace

TokenizerLocation find_tokenizer(const ModelArgs& a, const model::ModelConfig& cfg) {
  if (!a.tokenizer.empty()) {
    if (!fs::exists(a.tokenizer)) fail(a.tokenizer, ": tokenizer file not found");
    return {kind_of(a.tokenizer), a.tokenizer};
  }
  fs::path m(a.model);
  const bool dir = fs::is_directory(m);
  if (!dir && model::is_gguf_file(a.model)) return {"gguf", a.model};  // llama.cpp files carry their vocabulary
  fs::path d = dir ? m : m.parent_path();
  std::vector<fs::path> tried = dir ? std::vector<fs::path>{d / "tokenizer.model", d / "tokenizer.json", d / "tokenizer.bin",
                                                           d / "tokenizer.gguf"}
                                    : std::vector<fs::path>{d / "tokenizer.model", d / "tokenizer.bin",
                                                            d / ("tok" + std::to_string(cfg.vocab_size) + ".bin")};
  std::string list;
  for (auto& t : tried) {
    if (fs::exists(t)) return {kind_of(t.string()), t.string()};
    list += (list.empty() ? "" : ", ") + t.string();
  }
  fail("no tokenizer given and none found (looked for ", list, "); pass --tokenizer");
}

std::unique_ptr<model::Tokenizer> load_tokenizer_for(const ModelArgs& a, const model::ModelConfig& cfg) {
  const TokenizerLocation t = find_tokenizer(a, cfg);
  auto tok = model::load_tokenizer(t.path, cfg.bos_id, cfg.eos_id);
  if (tok->vocab_size() != cfg.vocab_size)
    fail(t.path, ": tokenizer has ", tok->vocab_size(), " tokens but the model's vocabulary is ", cfg.vocab_size,
         " — they do not belong together");
  return tok;
}

void allow_context(model::WeightSource& src, int n, const std::string& what) {
  const auto& c = src.config();
  if (n <= c.max_seq_len || !c.context_extendable) return;
  std::fprintf(stderr, "warning: %s exceeds the model's training context of %d tokens (its GGUF context_length); "
               "running it anyway as llama.cpp does (RoPE extrapolates)\n", what.c_str(), c.max_seq_len);
  src.extend_context(n);
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open text file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.empty()) fail(path, ": text file is empty");
  return s;
}

}  // namespace duq::tools
