// The online part of one linear input's transform, as the quantized model applies it at run time:
//   x ← x·Λ⁻¹ (smoothing that could not be folded into a norm or a weight, e.g. the o-projection input
//   under GQA), then either the DuQuant rotations/permutations R₁·P₁·R₂… or a randomized Hadamard.
// fold_weight applies the matching W ← W·G⁻ᵀ to a consumer weight [O×D], so (x·G)(W·G⁻ᵀ)ᵀ = x·Wᵀ.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "transform/duquant_transform.h"
#include "transform/hadamard.h"

namespace duq::calib {

struct SiteTransform {
  std::vector<float> smooth;                           // online Λ = diag(s); empty = none
  std::optional<transform::DuQuantTransform> duquant;  // rotations + permutations (its own smooth empty)
  std::shared_ptr<const transform::RandomizedHadamard> hadamard;
  uint64_t hadamard_seed = 0;  // the seed `hadamard` was built with (stored in model files)
  float act_clip = 0.f;        // per-token activation clip ratio of this input; 0 = the method's lac
  std::string choice;          // duquant-auto: which transform it chose ("none", "smooth", ...); else empty
  // --wide-channels: the channels of x·G (sorted) quantized at kernels::kWideBits, with their weight columns
  // (calib/wide_channels.h); empty = none.
  std::vector<int32_t> wide;

  bool identity() const { return smooth.empty() && !duquant && !hadamard; }
  void apply(MatView x) const;        // x [T×D] ← x·G
  void fold_weight(MatView w) const;  // w [O×D] ← w·G⁻ᵀ
};

}  // namespace duq::calib
