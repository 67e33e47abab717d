#include "model/sampler.h"

#include <cmath>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "kernels/nn_ops.h"

namespace duq::model {

Sampler::Sampler(float temperature, float top_p, uint64_t seed) : temperature_(temperature), top_p_(top_p), rng_(seed) {
  if (!(temperature >= 0.f) || !std::isfinite(temperature)) fail("--temperature must be >= 0 (got ", temperature, ")");
  if (!(top_p > 0.f && top_p <= 1.f)) fail("--top-p must be in (0, 1] (got ", top_p, ")");
}

int argmax(std::span<const float> v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

int Sampler::sample(std::span<float> logits) {
  for (float l : logits)
    if (!std::isfinite(l)) fail("the model's logits are NaN or Inf: cannot sample (a damaged model?)");
  if (temperature_ == 0.f) return argmax(logits);
  // Shifted by the maximum first: (l − max)/T is ≤ 0, so a tiny temperature gives −Inf (probability 0), never
  // Inf − Inf = NaN.
  const float mx = *std::max_element(logits.begin(), logits.end());
  for (float& l : logits) l = (l - mx) / temperature_;
  kernels::softmax(logits);
  const float r = static_cast<float>(rng_.uniform());
  if (top_p_ >= 1.f) {
    float cdf = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      cdf += logits[i];
      if (r < cdf) return static_cast<int>(i);
    }
    return static_cast<int>(logits.size() - 1);
  }
  // Nucleus: smallest set of most probable tokens whose mass exceeds top_p, renormalised.
  std::vector<int> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  float mass = 0;
  size_t last = idx.size() - 1;
  for (size_t i = 0; i < idx.size(); ++i) {
    mass += logits[static_cast<size_t>(idx[i])];
    if (mass > top_p_) {
      last = i;
      break;
    }
  }
  const float target = r * mass;
  float cdf = 0;
  for (size_t i = 0; i <= last; ++i) {
    cdf += logits[static_cast<size_t>(idx[i])];
    if (target < cdf) return idx[i];
  }
  return idx[last];
}

}  // namespace duq::model
