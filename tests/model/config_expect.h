// A model configuration read back from a written model must equal the one written, field by field (so a
// failure names the field).
#pragma once
#include <gtest/gtest.h>

#include "model/config.h"

namespace duq::test {

inline void expect_same_config(const model::ModelConfig& got, const model::ModelConfig& want) {
  EXPECT_EQ(got.dim, want.dim);
  EXPECT_EQ(got.hidden_dim, want.hidden_dim);
  EXPECT_EQ(got.n_layers, want.n_layers);
  EXPECT_EQ(got.n_heads, want.n_heads);
  EXPECT_EQ(got.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(got.vocab_size, want.vocab_size);
  EXPECT_EQ(got.max_seq_len, want.max_seq_len);
  EXPECT_EQ(got.tied_embeddings, want.tied_embeddings);
  EXPECT_EQ(got.rope_layout, want.rope_layout);
  EXPECT_EQ(got.rms_eps, want.rms_eps);  // exact: written with the shortest round-tripping digits
  EXPECT_EQ(got.rope_theta, want.rope_theta);
}

}  // namespace duq::test
