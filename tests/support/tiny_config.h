// A tiny multi-head LLaMA config for synthetic calibration tests (random_weights makes its weights).
#pragma once
#include "model/config.h"

namespace duq::test {

inline model::ModelConfig tiny_config(int dim = 32, int hidden = 64, int layers = 1, int vocab = 48, int seq = 64) {
  model::ModelConfig c;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = 4;
  c.n_kv_heads = 4;
  c.vocab_size = vocab;
  c.max_seq_len = seq;
  return c;
}

}  // namespace duq::test
