// A tiny multi-head LLaMA config for synthetic calibration tests (random_weights makes its weights).
#pragma once
#include "model/config.h"

namespace duq::test {

inline model::ModelConfig tiny_config(int dim = 32, int hidden = 64, int layers = 1, int vocab = 48, int seq = 64,
                                      int heads = 4, int kv_heads = 4) {
  model::ModelConfig c;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.vocab_size = vocab;
  c.max_seq_len = seq;
  return c;
}

}  // namespace duq::test
