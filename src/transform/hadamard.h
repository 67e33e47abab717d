// Normalised Hadamard transforms over the rows of a matrix (x [T×n] ← x·H), for the QuaRot-style baseline
// (spec §8) and Q/K rotation over head_dim (spec §3).
//
// n a power of two: the Sylvester/Walsh–Hadamard matrix H[i][j] = (−1)^popcount(i&j)/√n applied by the
// fast in-place butterfly, O(n log n) per row.
// Other n = 2^k·m (m odd): H = A ⊗ H_p, orthogonal, applied as a butterfly on each of the n/p segments
// followed by mixing the segments with A (O(n·(log p + n/p)) per row). A is, in order of preference:
//   - a Paley-I Hadamard matrix of order m·2^j (smallest j ≤ k with m·2^j − 1 a prime ≡ 3 mod 4, e.g.
//     12, 20, 24, 44, 48, 60, ...), normalised, with p = 2^(k−j): then H is a true Hadamard matrix;
//   - otherwise a seeded random orthogonal m×m matrix (QR of a Gaussian), with p = 2^k: not a Hadamard
//     matrix (entries are not ±1/√n) but orthogonal and still spreading within each segment.
//     LLaMA's 11008 = 256·43 and stories' 172 = 4·43 take this route (no Paley order fits 43·2^j).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "transform/dmat.h"

namespace duq::transform {

bool is_pow2(int64_t n);

// x [T×n] ← x·H_n in place for n a power of two (normalised Walsh–Hadamard, natural/Sylvester order).
void fwht_rows(MatView x);

// Explicit normalised Sylvester Hadamard matrix, n a power of two.
MatD sylvester_hadamard(int64_t n);
// Normalised Paley-I Hadamard matrix of order q+1 for a prime q ≡ 3 (mod 4); empty MatD otherwise.
MatD paley_hadamard(int64_t order);

// Orthogonal H of any size n ≥ 1 as described above.
class Hadamard {
 public:
  // seed only matters when n needs the random-orthogonal factor.
  explicit Hadamard(int64_t n, uint64_t seed = 0);
  int64_t size() const { return n_; }
  // True when H is a real Hadamard matrix (all entries ±1/√n).
  bool exact() const { return exact_; }
  // x [T×n] ← x·H in place.
  void apply_rows(MatView x) const;
  // The explicit n×n matrix (for tests and folding into small weights).
  Mat matrix() const;

 private:
  int64_t n_ = 0, p_ = 1, m_ = 1;  // H = A ⊗ H_p with A [m×m]; m_ = 1 means pure Walsh–Hadamard
  bool exact_ = true;
  Mat a_;  // [m×m] float, empty when m_ = 1
};

// QuaRot-style randomised Hadamard G = H·diag(s), s_j = ±1 drawn from seed: x ← x·H·diag(s).
// G is orthogonal, so folding into a weight W [O×n] is the same operation: W·G⁻ᵀ = W·G.
class RandomizedHadamard {
 public:
  RandomizedHadamard(int64_t n, uint64_t seed);
  int64_t size() const { return h_.size(); }
  const std::vector<float>& signs() const { return signs_; }
  void apply_rows(MatView x) const;
  Mat matrix() const;

 private:
  Hadamard h_;
  std::vector<float> signs_;
};

}  // namespace duq::transform
