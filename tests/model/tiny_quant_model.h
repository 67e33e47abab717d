// A tiny synthetic W4A4 model for the integer-engine tests (int_engine_test.cc, threads_engine_test.cc):
// random packed weights, no online transforms, a normalised Hadamard Q/K rotation.
#pragma once
#include <cmath>

#include "core/rng.h"
#include "kernels/int_gemm.h"
#include "model/quant_model.h"
#include "test_support.h"

namespace duq::model {

inline ModelConfig tiny_config(int kv_heads) {
  ModelConfig c;
  c.dim = 64, c.hidden_dim = 96, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = kv_heads, c.vocab_size = 50;
  c.max_seq_len = 64, c.tied_embeddings = true;
  return c;
}

// A W4A4 (KV 4) model with random packed weights, no online transforms and a normalised Hadamard Q/K rotation.
inline QuantModelData tiny_model(const ModelConfig& c, int kv_bits) {
  Rng rng(5);
  QuantModelData d;
  d.cfg = c;
  d.q.method = "rtn";
  d.q.wbits = 4, d.q.abits = 4, d.q.kv_bits = kv_bits;
  d.q.lac = 0.9f, d.q.qk_clip = 0.9f;
  d.embed = test::random_normal_mat(c.vocab_size, c.dim, 1.0, rng);
  d.final_norm.assign(static_cast<size_t>(c.dim), 1.f);
  const int hd = c.head_dim();
  d.qk_rotation.resize(hd, hd);  // Sylvester Hadamard / √hd
  for (int i = 0; i < hd; ++i)
    for (int j = 0; j < hd; ++j)
      d.qk_rotation(i, j) = static_cast<float>((__builtin_popcount(i & j) % 2 ? -1.0 : 1.0) / std::sqrt(double(hd)));
  auto pack = [&](int64_t n, int64_t k) {
    return kernels::quantize_pack_weights(test::random_normal_mat(n, k, 1.0 / std::sqrt(double(k)), rng), 4);
  };
  for (int l = 0; l < c.n_layers; ++l) {
    QuantLayer L;
    L.attn_norm.assign(static_cast<size_t>(c.dim), 1.f);
    L.ffn_norm.assign(static_cast<size_t>(c.dim), 1.f);
    L.wq = pack(c.q_dim(), c.dim);
    L.wk = pack(c.kv_dim(), c.dim);
    L.wv = pack(c.kv_dim(), c.dim);
    L.wo = pack(c.dim, c.q_dim());
    L.w_gate = pack(c.hidden_dim, c.dim);
    L.w_up = pack(c.hidden_dim, c.dim);
    L.w_down = pack(c.dim, c.hidden_dim);
    d.layers.push_back(std::move(L));
  }
  return d;
}

}  // namespace duq::model
