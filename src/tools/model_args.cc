#include "tools/model_args.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_checks.h"

namespace duq::tools {

namespace fs = std::filesystem;

void ModelArgs::add(CLI::App& app) {
  app.add_option("-m,--model", model,
                 "model: llama2.c checkpoint (.bin) or Hugging Face directory (config.json + safetensors)")
      ->required();
  app.add_option("-t,--tokenizer", tokenizer,
                 "tokenizer: llama2.c tokenizer.bin or SentencePiece .model (default: found next to the model)");
}

std::unique_ptr<model::Tokenizer> load_tokenizer_for(const ModelArgs& a, const model::ModelConfig& cfg) {
  std::string path = a.tokenizer;
  if (path.empty()) {
    fs::path m(a.model);
    fs::path dir = fs::is_directory(m) ? m : m.parent_path();
    std::vector<fs::path> tried = {dir / "tokenizer.model", dir / "tokenizer.bin",
                                   dir / ("tok" + std::to_string(cfg.vocab_size) + ".bin")};
    std::string list;
    for (auto& t : tried) {
      if (fs::exists(t)) {
        path = t.string();
        break;
      }
      list += (list.empty() ? "" : ", ") + t.string();
    }
    if (path.empty()) fail("no tokenizer given and none found (looked for ", list, "); pass --tokenizer");
  }
  auto tok = model::load_tokenizer(path);
  if (tok->vocab_size() != cfg.vocab_size)
    fail(path, ": tokenizer has ", tok->vocab_size(), " tokens but the model's vocabulary is ", cfg.vocab_size,
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

std::string read_text_file(const std::string& path) {
  std::string s = read_regular_file(path, "text file");
  if (s.empty()) fail(path, ": text file is empty");
  return s;
}

}  // namespace duq::tools
