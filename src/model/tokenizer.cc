#include "model/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "core/file_checks.h"
#include "model/bpe_tokenizer.h"

namespace duq::model {

std::string Tokenizer::decode_all(const std::vector<int>& tokens) const {
  std::string out;
  int prev = -1;
  for (int t : tokens) {
    if (t != bos_id() && t != eos_id()) out += decode(prev, t);
    prev = t;
  }
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (!std::filesystem::exists(path)) fail(path, ": tokenizer file not found");
  require_regular_file(path, "tokenizer");
  if (std::filesystem::path(path).extension() == ".model") return load_sentencepiece_tokenizer(path);
  return BpeTokenizer::load(path);
}

}  // namespace duq::model
