#include "model/synthetic.h"

#include <cmath>

#include "core/rng.h"

namespace duq::model {

namespace {

// Stream for tensor number `index`: mixes the seed so neighbouring seeds give unrelated weights.
Rng stream(uint64_t seed, uint64_t index) {
  return Rng(seed * 0x9e3779b97f4a7c15ULL + index * 0xd1b54a32d192ed03ULL + 1);
}

Mat gaussian(int64_t rows, int64_t cols, double stddev, uint64_t seed, uint64_t index) {
  Rng rng = stream(seed, index);
  Mat m(rows, cols);
  for (float& v : m.flat()) v = static_cast<float>(stddev * rng.normal());
  return m;
}

}  // namespace

// Stream indices: the embedding 0, block l's seven linears 1 + 7l … 7 + 7l, the classifier 1 + 7·n_layers.
RandomWeights::RandomWeights(ModelConfig c, uint64_t seed) : c_(std::move(c)), seed_(seed) {
  c_.validate("random_weights");
}

Mat RandomWeights::embedding() const {
  return gaussian(c_.vocab_size, c_.dim, c_.tied_embeddings ? 1.0 / std::sqrt(double(c_.dim)) : 1.0, seed_, 0);
}

LayerWeights RandomWeights::layer(int l) const {
  const int64_t D = c_.dim, H = c_.hidden_dim, Q = c_.q_dim(), K = c_.kv_dim();
  const double branch = 1.0 / std::sqrt(2.0 * c_.n_layers);
  uint64_t index = 1 + 7 * static_cast<uint64_t>(l);
  LayerWeights L;
  L.attn_norm.assign(static_cast<size_t>(D), 1.f);
  L.ffn_norm.assign(static_cast<size_t>(D), 1.f);
  L.wq = gaussian(Q, D, 1.0 / std::sqrt(double(D)), seed_, index++);
  L.wk = gaussian(K, D, 1.0 / std::sqrt(double(D)), seed_, index++);
  L.wv = gaussian(K, D, 1.0 / std::sqrt(double(D)), seed_, index++);
  L.wo = gaussian(D, Q, branch / std::sqrt(double(Q)), seed_, index++);
  L.w_gate = gaussian(H, D, 1.0 / std::sqrt(double(D)), seed_, index++);
  L.w_up = gaussian(H, D, 1.0 / std::sqrt(double(D)), seed_, index++);
  L.w_down = gaussian(D, H, branch / std::sqrt(double(H)), seed_, index++);
  return L;
}

Vec RandomWeights::final_norm() const { return Vec(static_cast<size_t>(c_.dim), 1.f); }

Mat RandomWeights::lm_head() const {
  if (c_.tied_embeddings) return Mat();
  return gaussian(c_.vocab_size, c_.dim, 1.0 / std::sqrt(double(c_.dim)), seed_,
                  1 + 7 * static_cast<uint64_t>(c_.n_layers));
}

ModelWeights random_weights(const ModelConfig& c, uint64_t seed) {
  const RandomWeights src(c, seed);
  ModelWeights w;
  w.embed = src.embedding();
  for (int l = 0; l < c.n_layers; ++l) w.layers.push_back(src.layer(l));
  w.final_norm = src.final_norm();
  w.lm_head = src.lm_head();
  return w;
}

}  // namespace duq::model
