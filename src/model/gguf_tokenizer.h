// Tokenizers stored as llama.cpp stores them: the tokenizer.ggml.* metadata of a GGUF file.
//   tokenizer.ggml.model "llama": SentencePiece-style — tokens (with "▁" for space), scores, token_type;
//     encoded by BpeTokenizer (best score first, byte fallback to <0xHH>), as llama.cpp's SPM tokenizer does.
//   tokenizer.ggml.model "gpt2": byte-level BPE — tokens, merges, token_type (3 control, 4 user-defined are
//     matched verbatim), tokenizer.ggml.pre naming the split regex ("llama-bpe" = LLaMA-3, "gpt-2").
// bos/eos from tokenizer.ggml.bos_token_id / eos_token_id. Other models and pre-tokenizers are refused by name.
// A quantized duquant file made from a GGUF model carries the same keys (duquant.tokenizer.kind "gguf").
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf.h"
#include "model/tokenizer.h"

namespace duq::model {

using GgufKeyValues = std::vector<std::pair<std::string, formats::GgufValue>>;

// The tokenizer.ggml.* entries of `f`, in file order.
GgufKeyValues gguf_tokenizer_kv(const formats::GgufFile& f);
// Builds the tokenizer; `source` names the file in errors.
std::unique_ptr<Tokenizer> tokenizer_from_gguf_kv(const GgufKeyValues& kv, const std::string& source);
// The tokenizer of the GGUF file at `path` (a model file or a vocabulary-only file).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace duq::model
