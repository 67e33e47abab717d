#include "formats/llama2c_tokenizer_file.h"

#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"

namespace duq::formats {

Llama2cVocab read_llama2c_tokenizer(const std::string& path) {
  MappedFile f(path);
  return parse_llama2c_tokenizer(f.data(), f.size(), path);
}

Llama2cVocab parse_llama2c_tokenizer(const uint8_t* p, size_t n, const std::string& path) {
  Llama2cVocab v;
  if (n < 4) fail(path, ": too short for a llama2.c tokenizer (", n, " bytes)");
  std::memcpy(&v.max_token_length, p, 4);
  if (v.max_token_length <= 0 || v.max_token_length > 4096)
    fail(path, ": max_token_length ", v.max_token_length, " is out of range — not a llama2.c tokenizer.bin?");
  size_t at = 4;
  while (at < n) {
    const size_t entry = v.pieces.size();
    if (n - at < 8) fail(path, ": truncated at token ", entry, " (offset ", at, "): header needs 8 bytes");
    float score;
    int32_t len;
    std::memcpy(&score, p + at, 4);
    std::memcpy(&len, p + at + 4, 4);
    at += 8;
    if (len < 0 || len > v.max_token_length)
      fail(path, ": token ", entry, " at offset ", at - 4, " has length ", len, " (max_token_length ",
           v.max_token_length, ")");
    if (n - at < static_cast<size_t>(len))
      fail(path, ": truncated at token ", entry, " (offset ", at, "): needs ", len, " bytes, file has ", n - at);
    v.pieces.emplace_back(reinterpret_cast<const char*>(p + at), static_cast<size_t>(len));
    v.scores.push_back(score);
    at += static_cast<size_t>(len);
  }
  if (v.pieces.empty()) fail(path, ": tokenizer has no tokens");
  return v;
}

}  // namespace duq::formats
