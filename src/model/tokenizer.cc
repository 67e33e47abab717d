#include "model/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "core/file_checks.h"
#include "model/bpe_tokenizer.h"
#include "model/byte_bpe_tokenizer.h"
#include "model/gguf_source.h"
#include "model/gguf_tokenizer.h"
#include "model/quant_model.h"

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

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int bos, int eos) {
  if (!std::filesystem::exists(path)) fail(path, ": tokenizer file not found");
  require_regular_file(path, "tokenizer");  // a directory, FIFO or device: refused before reading
  const auto ext = std::filesystem::path(path).extension();
  if (ext == ".model") return load_sentencepiece_tokenizer(path);
  if (ext == ".json") return load_tokenizer_json(path, bos, eos);
  if (is_gguf_file(path)) return load_gguf_tokenizer(path);
  return BpeTokenizer::load(path);
}

}  // namespace duq::model
