// Normalised Hadamard transforms over the rows of a matrix (x [T×n] ← x·H), for the QuaRot-style baseline
// (spec §8) and Q/K rotation over head_dim (spec §3).
//
// n a power of two: the Sylvester/Walsh–Hadamard matrix H[i][j] = (−1)^popcount(i&j)/√n applied by the
// fast in-place butterfly, O(n log n) per row.
// Other n = m·2^k (m odd): H = A ⊗ H_p with A of order m·2^j and p = 2^(k−j), orthogonal, applied as a
// butterfly on each of the m·2^j contiguous p-segments followed by mixing the segments with A:
// O(n·(log p + m·2^j)) per row, the mixing done as one GEMM over a batch of rows. A is, for the smallest
// j ≤ k that has one, a Paley-I or Paley-II Hadamard matrix of order m·2^j over GF(q) (transform/paley.h;
// q a prime or a prime power p^e, e ≤ 3), normalised: then H is a true Hadamard matrix. LLaMA widths:
// 5120 = 20·256, 5632 = 44·128, 11008 = 344·32 (Paley I over GF(7³); the order-172 matrix QuaRot embeds is a
// Williamson-type one that is not generated here), 13824 = 108·128, 14336 = 28·512, 28672 = 28·1024.
// Only when no order m·2^j (j ≤ k) is reachable (e.g. n = 7, 100) A is a seeded random orthogonal m×m matrix
// (QR of a Gaussian) with p = 2^k: orthogonal and spreading within each segment, but not a Hadamard matrix.
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
// Normalised Paley-I Hadamard matrix of order q+1 for a prime (power) q ≡ 3 (mod 4); empty MatD otherwise.
MatD paley_hadamard(int64_t order);

// Orthogonal H of any size n ≥ 1 as described above.
class Hadamard {
 public:
  // seed only matters when n needs the random-orthogonal factor.
  explicit Hadamard(int64_t n, uint64_t seed = 0);
  int64_t size() const { return n_; }
  // True when H is a real Hadamard matrix (all entries ±1/√n).
  bool exact() const { return exact_; }
  // H = A ⊗ H_p: the order m of A (1 for a pure Walsh–Hadamard), A itself ([m×m], normalised; empty when
  // m = 1) and p = n/m (for tests that check the construction independently).
  int64_t factor_order() const { return m_; }
  const Mat& factor() const { return a_; }
  // x [T×n] ← x·H in place.
  void apply_rows(MatView x) const;
  // The explicit n×n matrix (for tests and folding into small weights).
  Mat matrix() const;

 private:
  int64_t n_ = 0, p_ = 1, m_ = 1;  // H = A ⊗ H_p with A [m×m]; m_ = 1 means pure Walsh–Hadamard
  bool exact_ = true;
  Mat a_;  // [m×m] float, empty when m_ = 1
};

// QuaRot's randomised Hadamard G = diag(s)·H, s_j = ±1 drawn from seed: x ← (x ⊙ s)·H (signs BEFORE the
// mixing, so a constant row becomes a random ±1 combination spread over all outputs, max ~ √(2 ln n)·RMS;
// signs after the mixing would only flip outputs and every seed would give the same |x·G|).
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
