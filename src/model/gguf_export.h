// A float model written as llama.cpp reads it: a GGUF file with architecture "llama", llama.cpp's tensor names
// (token_embd, blk.N.attn_q, ..., output), its llama.* hyperparameter keys, W_q / W_k rows in the interleaved
// RoPE order llama.cpp's converter produces, and a tokenizer.ggml.* vocabulary. llama.cpp's own tools
// (llama-quantize, llama-bench, llama-cli) take the file as they take one made by convert_hf_to_gguf.py, and
// duquant reads it back as a GGUF model (model/gguf_source.h). Norms stay F32; the matrices are F32 or F16.
#pragma once
#include <string>

#include "core/atomic_file.h"
#include "formats/gguf.h"
#include "model/config.h"
#include "model/gguf_tokenizer.h"
#include "model/weights.h"

namespace duq::model {

// The tokenizer.ggml.* keys of a SentencePiece-style vocabulary (tokenizer.ggml.model "llama", as llama.cpp's
// converter writes LLaMA-1/2 and Mistral): pieces with "▁" for a space, scores and llama_token_type values
// (1 normal, 2 unknown, 3 control, 6 byte).
GgufKeyValues llama_vocab_kv(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                             const std::vector<int32_t>& types, int bos, int eos, int unk);
// The same from a llama2.c tokenizer.bin, as llama.cpp's llama-convert-llama2c-to-ggml writes it: spaces become
// "▁", BOS / EOS are named <s> / </s> (control), <unk> unknown, <0xHH> byte pieces.
GgufKeyValues llama_vocab_kv_from_llama2c(const std::string& path, int bos, int eos);

// Writes cfg / w (w_q and w_k are reordered to the interleaved layout when cfg's is rotate-half; w is taken by
// value and may be moved in) with `vocab` to `path` atomically. `matrices`: GgmlType::F32 or F16.
void write_llama_gguf(const std::string& path, ModelConfig cfg, ModelWeights w, formats::GgmlType matrices,
                      const GgufKeyValues& vocab, Replace replace = Replace::IfRegular);

}  // namespace duq::model
