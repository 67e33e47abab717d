// Greedy block-rotation search (spec §2, "The rotation search"): finds one b×b orthogonal R̂ that, applied
// to every b-wide block of x [T×w] (w a multiple of b), flattens the largest entries.
//
//   Y = x cut into rows of b           # row ρ = t·(w/b) + block, so Y is [T·w/b × b]
//   B = Base(b)·blockdiag(1, Q')       # Q' random orthogonal (b−1)×(b−1)
//   for j in 0..N−1:
//     score[j] = score(Y);  k = pick(Y);  Y = Y·Swap(B, 0, k)
//   score[N] = score(Y);  n = first argmin(score);  R̂ = Swap(B,0,k₀)·…·Swap(B,0,k_{n−1})  (I if n = 0)
//
// Variants (the reference code and the paper differ; the code is the default):
//   kReference: score = max(Y) − min(Y) (signed range); k = (row index of the extreme with the larger
//               magnitude, the max winning only when strictly larger) mod b; Q' drawn once per search.
//   kPaper:     score = max|Y|; k = column of the entry with the largest magnitude; Q' drawn every step.
// Ties: the extreme is its first occurrence in row-major order of Y (as torch.argmax).
//
// Determinism and the fast search: Y is stored with its rows sorted by descending L2 norm and cut into
// panels of 64 rows; Y·S is always computed panel by panel with the same BLAS call shape. The fast search
// (greedy_rotation_fast) updates only the panels that can hold an extreme — a row y has |y_c| ≤ ‖y‖ and
// rotations keep ‖y‖ up to a rounding bound — and replays a panel through the missed steps (same calls,
// same data) when the extremes shrink enough to need it. So both return bit-identical results.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "transform/dmat.h"

namespace duq::transform {

enum class SearchVariant { kReference, kPaper };

struct GreedyOptions {
  int steps = 256;  // N
  SearchVariant variant = SearchVariant::kReference;
  uint64_t seed = 0;  // draws Q'
  bool fast = true;   // greedy_rotation: use the fast exact search (same result)
};

struct GreedyResult {
  Mat rotation;                    // R̂ [b×b] float (the double product rounded once)
  MatD rotation_d;                 // R̂ in double
  int steps_taken = 0;             // n: number of Swap factors in R̂
  std::vector<float> scores;       // score[0..N] of the search trajectory
  std::vector<int64_t> exchanges;  // k₀..k_{N−1}
  int64_t row_updates = 0;         // rows of Y multiplied by a b×b matrix (work measure)
};

// x [T×w] with w a multiple of block; dispatches on opts.fast. Throws duq::Error on bad arguments.
GreedyResult greedy_rotation(ConstMatView x, int64_t block, const GreedyOptions& opts);
// The straightforward search: every row of Y updated every step.
GreedyResult greedy_rotation_reference(ConstMatView x, int64_t block, const GreedyOptions& opts);
// The same search skipping rows that provably cannot hold an extreme; bit-identical to the reference.
GreedyResult greedy_rotation_fast(ConstMatView x, int64_t block, const GreedyOptions& opts);

}  // namespace duq::transform
