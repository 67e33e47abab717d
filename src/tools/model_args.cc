#include "tools/model_args.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_checks.h"
#include "model/gguf_source.h"
#include "model/quant_model.h"

namespace duq::tools {

namespace fs = std::filesystem;

void ModelArgs::add(CLI::App& app) {
  app.add_option(
         "-m,--model", model,
         "model: llama2.c checkpoint (.bin), Hugging Face directory (config.json + safetensors), llama.cpp GGUF "
         "(F32/F16/BF16/Q8_0) or a quantized duquant .gguf (ppl, generate)")
      ->required();
  app.add_option(
      "-t,--tokenizer", tokenizer,
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
  std::vector<fs::path> tried = dir ? std::vector<fs::path>{d / "tokenizer.model", d / "tokenizer.json",
                                                            d / "tokenizer.bin", d / "tokenizer.gguf"}
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

std::vector<std::string> model_input_paths(const ModelArgs& a) {
  std::vector<std::string> in = {a.model, a.tokenizer};
  std::error_code ec;
  if (!a.model.empty() && !fs::is_directory(a.model, ec)) {
    const fs::path dir = fs::path(a.model).parent_path();
    for (const auto& e : fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("tokenizer.", 0) == 0 || (n.rfind("tok", 0) == 0 && e.path().extension() == ".bin"))
        in.push_back(e.path().string());
    }
  }
  return in;
}

std::vector<int> encode_prefix(const model::Tokenizer& tok, const std::string& text, size_t n) {
  // A text of up to 16 MB is tokenized whole (cheap; tokens_total then counts the whole text).
  if (text.size() <= (16u << 20)) return tok.encode(text, /*bos=*/true, /*eos=*/false);
  constexpr size_t kMargin = 256;  // tokens beyond n, so the cut cannot change the first n
  for (size_t len = std::max<size_t>(4096, (n + kMargin) * 8);; len *= 2) {
    if (len >= text.size()) return tok.encode(text, /*bos=*/true, /*eos=*/false);
    size_t cut = text.find_last_of(" \n\t", len);
    if (cut == std::string::npos || cut < len / 2) cut = len;
    std::vector<int> t = tok.encode(text.substr(0, cut), /*bos=*/true, /*eos=*/false);
    if (t.size() >= n + kMargin) {
      t.resize(n);
      return t;
    }
  }
}

void allow_context(model::WeightSource& src, int n, const std::string& what) {
  const auto& c = src.config();
  if (n <= c.max_seq_len || !c.context_extendable) return;
  std::fprintf(stderr,
               "warning: %s exceeds the model's training context of %d tokens (its GGUF context_length); "
               "running it anyway as llama.cpp does (RoPE extrapolates)\n",
               what.c_str(), c.max_seq_len);
  src.extend_context(n);
}

std::string read_text_file(const std::string& path) {
  std::string s = read_regular_file(path, "text file");
  if (s.empty()) fail(path, ": text file is empty");
  return s;
}

}  // namespace duq::tools
