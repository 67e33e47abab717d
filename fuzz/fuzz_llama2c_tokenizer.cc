// llama2.c tokenizer.bin (formats::read_llama2c_tokenizer via model::BpeTokenizer::load) on arbitrary
// bytes; when it loads, a short text cut from the input is encoded and decoded with it, and the encoding
// is checked against the naive run.c encoder (tests/model/naive_encoder.h).
// Input layout: [tokenizer file bytes][text bytes][1 byte: text length (mod 64)].
#include <cmath>
#include <string>

#include "core/error.h"
#include "formats/llama2c_tokenizer_file.h"
#include "fuzz_util.h"
#include "model/bpe_tokenizer.h"
#include "model/naive_encoder.h"

using namespace duq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_tokenizer.bin");
  if (size == 0) return 0;
  size_t text_len = data[size - 1] % 64;
  size -= 1;
  if (text_len > size) text_len = size;
  const std::string text(reinterpret_cast<const char*>(data + size - text_len), text_len);
  size -= text_len;
  const std::string& path = file.write(data, size);

  formats::Llama2cVocab v;
  try {
    v = formats::read_llama2c_tokenizer(path);
  } catch (const Error&) {
    return 0;
  }
  // Every byte accounted for: 4-byte header, then 8 + len per entry.
  size_t bytes = 4;
  for (const auto& p : v.pieces) bytes += 8 + p.size();
  FUZZ_REQUIRE(bytes == size);
  FUZZ_REQUIRE(v.pieces.size() == v.scores.size());

  std::unique_ptr<model::BpeTokenizer> tok;
  try {
    tok = model::BpeTokenizer::load(path);
  } catch (const Error&) {
    return 0;  // too few tokens for the byte fallback
  }
  std::vector<int> ids;
  try {
    ids = tok->encode(text, true, true);
  } catch (const Error&) {
    return 0;  // no " " piece for the dummy prefix
  }
  for (int id : ids) FUZZ_REQUIRE(id >= 0 && id < tok->vocab_size());
  // run.c only merges pairs scoring above -1e10 and never NaN ones; compare where that cannot matter.
  bool plain_scores = true;
  for (float s : v.scores) plain_scores = plain_scores && std::isfinite(s) && s > -1e10f;
  if (plain_scores) FUZZ_REQUIRE(ids == test::naive_llama2c_encode(v.pieces, v.scores, text, true, true));
  int prev = tok->bos_id();
  for (int id : ids) {
    (void)tok->decode(prev, id);
    prev = id;
  }
  return 0;
}
