// Random LLaMA weights for tests and benchmarks: deterministic for a seed on every platform (duq::Rng).
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "model/config.h"
#include "model/weights.h"

namespace duq::model {

// Gaussian weights scaled so activations stay O(1) through the network:
//   linear W [out × in] ~ N(0, 1/in); wo and w_down (the residual branch outputs) further / sqrt(2·n_layers)
//   so the residual stream grows to O(1), not O(sqrt(n_layers)); embed ~ N(0, 1) when the classifier is
//   separate, N(0, 1/D) when tied (then logits = x̂·e_v are O(1)); lm_head ~ N(0, 1/D); norms = 1.
// Each tensor draws from its own stream (seed, tensor index), so one tensor's values do not depend on the
// shapes of the others.
ModelWeights random_weights(const ModelConfig& c, uint64_t seed);

// The same weights drawn one tensor at a time when asked for (each from its own stream), so a writer can
// stream a model of any size through one block's memory (`duquant synth` of a 7B shape: ~27 GB in f32).
class RandomWeights : public WeightSource {
 public:
  RandomWeights(ModelConfig c, uint64_t seed);
  const ModelConfig& config() const override { return c_; }
  std::string description() const override { return "random weights (seed " + std::to_string(seed_) + ")"; }
  Mat embedding() const override;
  LayerWeights layer(int l) const override;
  Vec final_norm() const override;
  Mat lm_head() const override;

 private:
  ModelConfig c_;
  uint64_t seed_;
};

// A WeightSource over weights held in memory (synthetic models fed to the block-by-block pipeline).
class MemoryWeights : public WeightSource {
 public:
  MemoryWeights(ModelConfig c, ModelWeights w) : c_(std::move(c)), w_(std::move(w)) {}
  const ModelConfig& config() const override { return c_; }
  std::string description() const override { return "in-memory model"; }
  Mat embedding() const override { return w_.embed; }
  LayerWeights layer(int l) const override { return w_.layers.at(static_cast<size_t>(l)); }
  Vec final_norm() const override { return w_.final_norm; }
  Mat lm_head() const override { return w_.lm_head; }
  const ModelWeights& weights() const { return w_; }

 private:
  ModelConfig c_;
  ModelWeights w_;
};

}  // namespace duq::model
