// A small hand-made Hugging Face tokenizer.json (byte-level BPE with LLaMA-3's pre-tokenizer) for tests, and
// GPT-2's byte mapping written out from its definition (independent of the code under test).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/byte_bpe_tokenizer.h"

namespace duq::test {

// GPT-2's bytes_to_unicode written out from encoder.py: the printable ranges keep their codepoints, the
// other bytes get 256, 257, … in byte order. Returns codepoint per byte.
inline std::vector<uint32_t> gpt2_byte_codepoints() {
  std::vector<uint32_t> cp(256, 0);
  std::vector<bool> self(256, false);
  for (int b = '!'; b <= '~'; ++b) self[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) self[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) self[b] = true;
  uint32_t n = 0;
  for (int b = 0; b < 256; ++b) cp[b] = self[b] ? b : 256 + n++;
  return cp;
}

inline std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A tokenizer.json: ids 0–255 the byte characters in byte order, then `extra` tokens from id 256, the merges
// given, special added tokens at ids 1000 (<|begin_of_text|>, BOS by the template), 1001 (<|eot_id|>) and 1002
// (<|end_of_text|>, EOS by its name), and LLaMA-3's pre-tokenizer.
inline std::string tokenizer_json(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
                                  bool ignore_merges = false) {
  const auto cps = gpt2_byte_codepoints();
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[utf8(cps[b])] = b;
  for (size_t i = 0; i < extra.size(); ++i) vocab[extra[i]] = 256 + i;
  // Filler so that ids 1000/1001 follow a dense range (as real vocabularies are).
  for (int i = 256 + static_cast<int>(extra.size()); i < 1000; ++i) vocab["<filler" + std::to_string(i) + ">"] = i;
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 1000}, {"content", "<|begin_of_text|>"}, {"special", true}},
        {{"id", 1001}, {"content", "<|eot_id|>"}, {"special", true}},
        {{"id", 1002}, {"content", "<|end_of_text|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", model::kLlama3SplitPattern}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"ignore_merges", ignore_merges},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", merges}}}};
  return j.dump();
}

}  // namespace duq::test
