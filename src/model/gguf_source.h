// llama.cpp GGUF model files (float or Q8_0 weights) as a WeightSource, and telling them apart from duquant's
// own quantized .gguf files (which carry duquant.format_version).
//
// Read: general.architecture "llama" or "mistral"; hyper-parameters from <arch>.context_length,
// .embedding_length, .feed_forward_length, .block_count, .attention.head_count, .attention.head_count_kv,
// .rope.freq_base, .attention.layer_norm_rms_epsilon, .rope.dimension_count (must be the head size: no
// partial RoPE), .vocab_size, .attention.key_length (head size ≠ dim/heads), .rope.scaling.type/.factor
// (linear) and the rope_freqs.weight tensor (LLaMA-3.1's per-frequency factors). Tensors by llama.cpp's names
// (token_embd, blk.N.attn_norm/attn_q/attn_k/attn_v/attn_output/ffn_norm/ffn_gate/ffn_up/ffn_down,
// output_norm, output — absent = tied), types F32, F16, BF16 or Q8_0, each widened to float32 once when read.
// llama.cpp's converters store W_q / W_k rows in the interleaved RoPE order (they undo Hugging Face's
// permutation; llama2.c never had it), so configs from here have rope_layout = Interleaved.
// context_length is the training context: longer contexts run with a warning, as in llama.cpp
// (ModelConfig::context_extendable).
#pragma once
#include <memory>
#include <string>

#include "formats/gguf.h"
#include "model/weights.h"

namespace duq::model {

enum class GgufKind { FloatModel, Quantized };
// For a file that starts with the GGUF magic: Quantized when it has duquant.format_version.
GgufKind gguf_kind(const std::string& path);
// True when the file is a GGUF file (float or quantized), by its magic (formats/file_kind.h).
bool is_gguf_file(const std::string& path);

// The model configuration in `f`'s metadata (tensors consulted only for vocab size and rope_freqs).
ModelConfig gguf_model_config(const formats::GgufFile& f);

// Opens `path`, reads the config and checks every tensor's presence, type and shape up front.
std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path);

}  // namespace duq::model
