// Random LLaMA weights for tests and benchmarks: deterministic for a seed on every platform (duq::Rng).
#pragma once
#include <cstdint>

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

}  // namespace duq::model
