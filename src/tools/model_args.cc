#include "tools/model_args.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

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
