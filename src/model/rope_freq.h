// RoPE inverse frequencies of a model: theta^(−2i/hd) for i < hd/2, rescaled per ModelConfig::rope_scaling
// (linear, LLaMA-3.1's llama3, or llama.cpp's per-frequency factors). Every RoPE table (forward pass,
// calibration, LWC's gradients) is built from here so that the variants agree everywhere.
#pragma once
#include <vector>

#include "kernels/nn_ops.h"
#include "model/config.h"

namespace duq::model {

// [head_dim / 2] inverse frequencies (radians per position), in double.
std::vector<double> rope_inv_freq(const ModelConfig& c);
// The table for positions 0 … max_pos−1.
kernels::RopeTable rope_table(const ModelConfig& c, int max_pos);

}  // namespace duq::model
