// The llama2.c tokenizer (tokenizer.bin) with exactly llama2.c's encode semantics:
//   1. optional BOS; a dummy-prefix " " token when the text is non-empty;
//   2. each UTF-8 codepoint (up to 4 bytes) looked up as a piece, else its bytes as <0xHH> = byte + 3
//      (a GGUF vocabulary: the <0xHH> piece by name);
//   3. repeatedly merge the adjacent pair whose concatenation is a piece with the highest score
//      (ties: the leftmost pair), until no pair merges.
// The same algorithm serves SentencePiece-style vocabularies inside llama.cpp GGUF files (tokenizer.ggml.model
// "llama": pieces with "▁" for space — converted to " " — scores, "<0xHH>" byte tokens), which is what
// llama.cpp's own SPM tokenizer does: dummy prefix, best-score-first merges (ties leftmost), byte fallback.
// Step 3 uses a max-heap of candidate pairs over a linked list with lazy invalidation: O(n log n)
// instead of run.c's O(n²) rescans, with the identical merge order.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/llama2c_tokenizer_file.h"
#include "model/tokenizer.h"

namespace duq::model {

class BpeTokenizer : public Tokenizer {
 public:
  // Byte fallback: llama2.c's run.c emits id byte + 3 whatever that piece is (its tokenizer.bin files put
  // <0x00>…<0xFF> at 3…258); a GGUF "llama" vocabulary is looked up by name ("<0x0A>"), as llama.cpp does.
  enum class ByteIds { Plus3, ByName };
  BpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::string source, int bos = 1, int eos = 2,
               bool dummy_prefix = true, ByteIds byte_ids = ByteIds::Plus3);
  static std::unique_ptr<BpeTokenizer> load(const std::string& path);
  // From the bytes of a tokenizer.bin held in memory; `source` names it in errors.
  static std::unique_ptr<BpeTokenizer> from_bytes(const std::string& bytes, const std::string& source);

  std::vector<int> encode(const std::string& text, bool bos, bool eos) const override;
  std::string decode(int prev, int token) const override;
  int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  const std::string& piece(int id) const { return pieces_.at(static_cast<size_t>(id)); }

 private:
  static std::unique_ptr<BpeTokenizer> from_vocab(formats::Llama2cVocab v, const std::string& path);
  int lookup(const std::string& s) const;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> index_;
  std::string source_;
  int bos_, eos_;
  bool dummy_prefix_;
  int byte_ids_[256];
};

}  // namespace duq::model
