// Next-token choice from logits: greedy (temperature 0), temperature, nucleus (top-p), as llama2.c.
#pragma once
#include <cstdint>
#include <span>

#include "core/rng.h"

namespace duq::model {

class Sampler {
 public:
  Sampler(float temperature, float top_p, uint64_t seed);
  // logits [V]; modified in place.
  int sample(std::span<float> logits);

 private:
  float temperature_, top_p_;
  Rng rng_;
};

// Index of the largest value (the first one on ties).
int argmax(std::span<const float> v);

}  // namespace duq::model
