// The DuQuant transform of one linear input (spec §1–2): G = Λ⁻¹·R₁·P₁·R₂ (more rounds: ·P₂·R₃…),
// with Λ = diag(s) smoothing, R_i block-diagonal rotations and P_i zigzag permutations.
// Activations x [T×D] are used as x·G; the weight W [O×D] (out×in) is stored as W·G⁻ᵀ so that
// (x·G)·(W·G⁻ᵀ)ᵀ = x·Wᵀ. Since R and P are orthogonal, G⁻ᵀ = Λ·R₁·P₁·R₂: the weight goes through the
// same pipeline with Λ instead of Λ⁻¹.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "transform/block_rotation.h"
#include "transform/greedy_rotation.h"

namespace duq::transform {

struct DuQuantOptions {
  int64_t block = 128;  // rotation block size b (≤ D)
  int steps = 256;      // greedy steps N per rotation
  int rounds = 1;       // number of permutations; rounds + 1 rotations
  SearchVariant variant = SearchVariant::kReference;
  uint64_t seed = 0;
  bool fast = true;           // fast exact greedy search (bit-identical to the straightforward one)
  std::vector<float> smooth;  // s_j of Λ (see smoothing.h); empty = no smoothing
};

class DuQuantTransform {
 public:
  std::vector<float> smooth;                // [D] or empty (Λ = I)
  std::vector<BlockRotation> rotations;     // R₁ … R_{rounds+1}
  std::vector<std::vector<int64_t>> perms;  // P₁ … P_rounds (x_new = x[:, perm])

  int64_t dim() const { return rotations.empty() ? 0 : rotations.front().dim; }
  // x [T×D] ← x·G in place, O(T·D·b).
  void apply(MatView x) const;
  // W [O×D] ← W·G⁻ᵀ = W·Λ·R₁·P₁·R₂… in place.
  void fold_weight(MatView w) const;
  // Explicit G [D×D] (tests, small D).
  Mat matrix() const;

 private:
  void apply_orthogonal(MatView x) const;  // x ← x·R₁·P₁·R₂…
};

// Searches the transform on calibration activations x [T×D]: smoothing first (x·Λ⁻¹), then R₁ on the
// smoothed x, zigzag on the rotated x, R₂ on the permuted x, … — each search sees the already-transformed
// activations. Rotation i uses seed derive_seed(opts.seed, 2 + i). If transformed is given it receives
// x·G. Throws duq::Error on bad options (block < 1 or > D, smoothing length ≠ D, rounds < 0, …).
DuQuantTransform duquant_search(ConstMatView x, const DuQuantOptions& opts, Mat* transformed = nullptr);

}  // namespace duq::transform
