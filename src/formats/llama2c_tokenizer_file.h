// llama2.c tokenizer.bin: int32 max_token_length, then per token {f32 score, int32 len, len bytes}
// until the end of the file (the vocabulary size is the number of entries).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace duq::formats {

struct Llama2cVocab {
  int max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

// Throws duq::Error naming the file and the entry when it is truncated or a length is impossible.
Llama2cVocab read_llama2c_tokenizer(const std::string& path);
// The same from bytes in memory; `path` names the source in errors.
Llama2cVocab parse_llama2c_tokenizer(const uint8_t* data, size_t size, const std::string& path);

}  // namespace duq::formats
