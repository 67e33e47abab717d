#include "calib/norm_tweak.h"

#include <cmath>

#include "core/error.h"
#include "core/threads.h"

namespace duq::calib {

double mean_block_loss(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& p,
                       const std::vector<Mat>& inputs, const std::vector<Mat>& targets) {
  DUQ_CHECK(inputs.size() == targets.size() && !inputs.empty(), "mean_block_loss: inputs and targets");
  std::vector<double> loss(inputs.size());
  parallel_for(static_cast<int64_t>(inputs.size()), [&](int64_t n) {
    loss[static_cast<size_t>(n)] = block_loss_grad<float>(cfg, qs, p, inputs[static_cast<size_t>(n)],
                                                          targets[static_cast<size_t>(n)], nullptr, nullptr, nullptr);
  });
  double sum = 0;
  for (double l : loss) sum += l;
  return sum / static_cast<double>(inputs.size());
}

NormTweakResult norm_tweak_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& p0,
                                 const std::vector<Mat>& inputs, const std::vector<Mat>& targets,
                                 const NormTweakOptions& opts) {
  NormTweakResult res;
  res.attn_norm = p0.attn_norm;
  res.ffn_norm = p0.ffn_norm;
  res.loss_before = res.loss_after = mean_block_loss(cfg, qs, p0, inputs, targets);
  if (opts.epochs <= 0) return res;
  BlockParams<float> p = p0;
  const size_t D = p0.attn_norm.size();
  // δ and Adam moments for [attn | ffn].
  std::vector<float> delta(2 * D, 0.f), m(2 * D, 0.f), v(2 * D, 0.f), g(2 * D);
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  auto apply = [&] {
    for (size_t j = 0; j < D; ++j) {
      p.attn_norm[j] = p0.attn_norm[j] * (1.f + delta[j]);
      p.ffn_norm[j] = p0.ffn_norm[j] * (1.f + delta[D + j]);
    }
  };
  BlockExtraGrads<float> eg;
  int64_t step = 0;
  for (int epoch = 0; epoch < opts.epochs; ++epoch) {
    for (size_t n = 0; n < inputs.size(); ++n) {
      apply();
      const float loss = block_loss_grad<float>(cfg, qs, p, inputs[n], targets[n], nullptr, nullptr, nullptr, &eg);
      if (!std::isfinite(loss)) continue;
      for (size_t j = 0; j < D; ++j) {
        g[j] = eg.attn_norm[j] * p0.attn_norm[j];
        g[D + j] = eg.ffn_norm[j] * p0.ffn_norm[j];
      }
      ++step;
      const float c1 = 1.f - std::pow(b1, static_cast<float>(step)), c2 = 1.f - std::pow(b2, static_cast<float>(step));
      for (size_t k = 0; k < delta.size(); ++k) {
        m[k] = b1 * m[k] + (1 - b1) * g[k];
        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
        delta[k] -= opts.lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
      }
    }
    apply();
    const double l = mean_block_loss(cfg, qs, p, inputs, targets);
    if (std::isfinite(l) && l < res.loss_after) {  // keep the best epoch's norms
      res.loss_after = l;
      res.attn_norm = p.attn_norm;
      res.ffn_norm = p.ffn_norm;
    }
  }
  res.steps = static_cast<int>(step);
  return res;
}

}  // namespace duq::calib
