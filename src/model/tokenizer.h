// Tokenizers behind one interface: llama2.c tokenizer.bin (our own encoder, llama2.c semantics),
// SentencePiece .model files (through Debian's libsentencepiece), Hugging Face tokenizer.json (byte-level
// BPE, model/byte_bpe_tokenizer.h) and the tokenizer.ggml.* metadata of GGUF files (model/gguf_tokenizer.h).
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

// By file: *.model → SentencePiece; *.json → tokenizer.json; a GGUF file → its tokenizer.ggml.* metadata;
// anything else → llama2.c tokenizer.bin. bos / eos (≥ 0): the model's ids, for tokenizer.json, which does
// not name its EOS. Throws duq::Error naming the path.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, int bos = -1, int eos = -1);

}  // namespace duq::model

namespace duq::model {
// SentencePiece .model through libsentencepiece (defined in sp_tokenizer.cc).
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path);
}  // namespace duq::model
