// Converting W_q / W_k between the two RoPE layouts. llama2.c rotates pairs (2i, 2i+1) of each head,
// Hugging Face pairs (i, i + hd/2). Reordering the rows of W_q and W_k inside every head — row 2i+j of
// a head moves to row j·hd/2 + i — turns one into the other; q·kᵀ per head is unchanged because q and k
// are permuted alike. This is the permutation of Hugging Face's own convert_llama_weights_to_hf.
#pragma once
#include "core/tensor.h"
#include "model/config.h"
#include "model/weights.h"

namespace duq::model {

// w [n_heads·hd × D]: rows reordered from interleaved to rotate-half order (in place).
void interleaved_to_rotate_half(Mat& w, int n_heads);

// The inverse: rows of w from rotate-half back to interleaved order (in place).
void rotate_half_to_interleaved(Mat& w, int n_heads);

// Every layer's W_q and W_k, and cfg.rope_layout, from Interleaved to RotateHalf.
void convert_to_rotate_half(ModelConfig& cfg, ModelWeights& w);
// ... and from RotateHalf to Interleaved (llama.cpp's GGUF order).
void convert_to_interleaved(ModelConfig& cfg, ModelWeights& w);

}  // namespace duq::model
