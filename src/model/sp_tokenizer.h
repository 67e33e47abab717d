// SentencePiece .model tokenizers (LLaMA 1/2, Mistral) through Debian's libsentencepiece.
#pragma once
#include <memory>
#include <string>

#include "model/gguf_tokenizer.h"
#include "model/tokenizer.h"

namespace duq::model {

// Loads `path`; throws duq::Error naming it when it is missing or not a SentencePiece model.
// decode(prev, token) is SentencePiece's decoding split per token: "▁" becomes a space, the leading space
// of the first piece (prev < 0 or prev a control token such as BOS) is dropped, byte pieces <0xHH> become
// the raw byte, control tokens give "" and the unknown token " ⁇ ". Concatenating decode over a sequence
// equals SentencePieceProcessor::DecodeIds whenever the byte pieces form valid UTF-8 (SentencePiece
// replaces invalid sequences with U+FFFD; a per-token decoder cannot see the whole sequence).
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path);
// The same from a serialized model held in memory (e.g. inside a quantized model file); `source` names it.
std::unique_ptr<Tokenizer> sentencepiece_tokenizer_from_bytes(const std::string& bytes, const std::string& source);
// Its vocabulary as llama.cpp's tokenizer.ggml.* keys (model/gguf_export.h llama_vocab_kv), bos / eos the model's.
GgufKeyValues llama_vocab_kv_from_sentencepiece(const std::string& path, int bos, int eos);

}  // namespace duq::model
