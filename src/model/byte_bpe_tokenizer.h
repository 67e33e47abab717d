// Byte-level BPE (GPT-2's scheme, as LLaMA-3 ships it): Hugging Face tokenizer.json and llama.cpp GGUF
// vocabularies of type "gpt2". Encoding:
//   1. added tokens (<|begin_of_text|>, <|eot_id|>, …) are cut out of the text verbatim, longest first;
//   2. the rest is split by the pre-tokenizer regex (PCRE2 with Unicode properties; LLaMA-3's pattern
//      below) into pieces — matches and the gaps between them;
//   3. each piece's bytes are mapped to printable characters (GPT-2's bytes_to_unicode: the bytes ! … ~,
//      ¡ … ¬, ® … ÿ stand for themselves, the other 68 become U+0100 + n in byte order);
//   4. with ignore_merges, a piece that is itself a token is that token (LLaMA-3); otherwise its characters
//      are merged pairwise, always the adjacent pair with the lowest merge rank (leftmost on ties), until
//      no pair has a rank; each symbol is then a token.
// Decoding maps the characters back to bytes; control (special) tokens decode to "".
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/tokenizer.h"

namespace duq::model {

// GPT-2's pre-tokenizer pattern and LLaMA-3's (tokenizer.json's Split regex, llama.cpp's "llama-bpe").
extern const char* const kGpt2SplitPattern;
extern const char* const kLlama3SplitPattern;

// GPT-2's bytes_to_unicode: the UTF-8 text standing for byte b.
std::string byte_to_unicode(unsigned char b);

struct ByteBpeVocab {
  std::vector<std::string> tokens;  // id → token; byte-mapped text for BPE tokens, raw text for added ones
  std::vector<char> added;          // id → matched verbatim in the text (added / user-defined / control)
  std::vector<char> control;        // id → decodes to "" (special tokens)
  std::vector<std::pair<std::string, std::string>> merges;  // by rank (0 first)
  std::string pattern;                                      // pre-tokenizer split regex
  bool ignore_merges = false;
  int bos = -1, eos = -1;
};

class ByteBpeTokenizer : public Tokenizer {
 public:
  // Throws duq::Error naming `source` on a bad pattern, a merge of unknown tokens or out-of-range ids.
  ByteBpeTokenizer(ByteBpeVocab v, std::string source);
  ~ByteBpeTokenizer() override;

  std::vector<int> encode(const std::string& text, bool bos, bool eos) const override;
  std::string decode(int prev, int token) const override;
  int vocab_size() const override { return static_cast<int>(v_.tokens.size()); }
  int bos_id() const override { return v_.bos; }
  int eos_id() const override { return v_.eos; }
  // The pre-tokenizer's pieces of `text` (no added tokens inside), for tests.
  std::vector<std::string> split(const std::string& text) const;

 private:
  void encode_piece(const std::string& piece, std::vector<int>& out) const;
  ByteBpeVocab v_;
  std::string source_;
  std::unordered_map<std::string, int> index_;   // BPE token text → id
  std::unordered_map<std::string, int> ranks_;   // left + '\0' + right → merge rank
  std::vector<std::vector<int>> added_by_byte_;  // first byte → added token ids, longest first
  std::unordered_map<int, unsigned char> unicode_to_byte_;
  void* regex_ = nullptr;                                            // pcre2_code_8*
  mutable std::unordered_map<std::string, std::vector<int>> cache_;  // piece → ids (pieces repeat a lot)
  mutable std::mutex cache_mutex_;                                   // encode() may be called from several threads
};

// tokenizer.json (Hugging Face tokenizers, model type BPE with a ByteLevel pre-tokenizer) → vocabulary.
// bos / eos: ids from the model's config (≥ 0) or −1 to take BOS from the post-processor's template and EOS
// from the usual names. SentencePiece-style tokenizer.json files (byte_fallback, Metaspace) are refused:
// their tokenizer.model is the file to use.
ByteBpeVocab parse_tokenizer_json(const std::string& json_text, const std::string& source, int bos = -1, int eos = -1);
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path, int bos = -1, int eos = -1);
std::unique_ptr<Tokenizer> tokenizer_json_from_bytes(const std::string& bytes, const std::string& source, int bos = -1,
                                                     int eos = -1);

}  // namespace duq::model
