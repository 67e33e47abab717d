// Tokenizers behind one interface: llama2.c tokenizer.bin (our own encoder, llama2.c semantics) and
// SentencePiece .model files (through Debian's libsentencepiece).
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace duq::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text`; with bos/eos the special ids are added at the ends.
  virtual std::vector<int> encode(const std::string& text, bool bos, bool eos) const = 0;
  // Text of `token` when it follows `prev` (a leading space after BOS is dropped, byte pieces
  // <0xHH> become the raw byte).
  virtual std::string decode(int prev, int token) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  std::string decode_all(const std::vector<int>& tokens) const;
};

// By file: *.model → SentencePiece; anything else → llama2.c tokenizer.bin. Throws duq::Error naming the path.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace duq::model

namespace duq::model {
// SentencePiece .model through libsentencepiece (defined in sp_tokenizer.cc).
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path);
}  // namespace duq::model
