#include "model/synthetic.h"

#include <cmath>

#include "core/rng.h"

namespace duq::model {

namespace {

// Stream for tensor number `index`: mixes the seed so neighbouring seeds give unrelated weights.
Rng stream(uint64_t seed, uint64_t index) { return Rng(seed * 0x9e3779b97f4a7c15ULL + index * 0xd1b54a32d192ed03ULL + 1); }

Mat gaussian(int64_t rows, int64_t cols, double stddev, uint64_t seed, uint64_t index) {
  Rng rng = stream(seed, index);
  Mat m(rows, cols);
  for (float& v : m.flat()) v = static_cast<float>(stddev * rng.normal());
  return m;
}

}  // namespace

ModelWeights random_weights(const ModelConfig& c, uint64_t seed) {
  c.validate("random_weights");
  const int64_t D = c.dim, H = c.hidden_dim, Q = c.q_dim(), K = c.kv_dim(), V = c.vocab_size;
  const double branch = 1.0 / std::sqrt(2.0 * c.n_layers);
  uint64_t index = 0;
  ModelWeights w;
  w.embed = gaussian(V, D, c.tied_embeddings ? 1.0 / std::sqrt(double(D)) : 1.0, seed, index++);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (auto& L : w.layers) {
    L.attn_norm.assign(static_cast<size_t>(D), 1.f);
    L.ffn_norm.assign(static_cast<size_t>(D), 1.f);
    L.wq = gaussian(Q, D, 1.0 / std::sqrt(double(D)), seed, index++);
    L.wk = gaussian(K, D, 1.0 / std::sqrt(double(D)), seed, index++);
    L.wv = gaussian(K, D, 1.0 / std::sqrt(double(D)), seed, index++);
    L.wo = gaussian(D, Q, branch / std::sqrt(double(Q)), seed, index++);
    L.w_gate = gaussian(H, D, 1.0 / std::sqrt(double(D)), seed, index++);
    L.w_up = gaussian(H, D, 1.0 / std::sqrt(double(D)), seed, index++);
    L.w_down = gaussian(D, H, branch / std::sqrt(double(H)), seed, index++);
  }
  w.final_norm.assign(static_cast<size_t>(D), 1.f);
  if (!c.tied_embeddings) w.lm_head = gaussian(V, D, 1.0 / std::sqrt(double(D)), seed, index++);
  return w;
}

}  // namespace duq::model
