// A block-diagonal rotation over D channels: one shared R̂ [b×b] for each of the ⌊D/b⌋ full blocks (the
// authors' code), or — the paper's BlockDiag(R̂_b1, …, R̂_bK), `--variant paper` — one R̂_k per full block,
// each searched on its own b channels; and for D not a multiple of b a separate rotation of the trailing
// r = D mod b channels (spec §9), found by the same greedy search on that slice with block size r.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "transform/greedy_rotation.h"

namespace duq::transform {

// Independent, reproducible seeds for the searches of one transform (splitmix64 of seed and stream).
uint64_t derive_seed(uint64_t seed, uint64_t stream);

struct BlockRotation {
  int64_t dim = 0, block = 0;
  Mat full;                    // shared R̂ [b×b]; empty when per_block is set
  std::vector<Mat> per_block;  // R̂_k [b×b] for each full block k (paper variant), else empty
  Mat tail;                    // [r×r], empty when r = dim mod b = 0
  const Mat& block_matrix(int64_t k) const { return per_block.empty() ? full : per_block[static_cast<size_t>(k)]; }
  int64_t full_blocks() const { return block == 0 ? 0 : dim / block; }
  int64_t tail_width() const { return block == 0 ? 0 : dim % block; }
  // x [T×dim] ← x·R, R = blockdiag(R̂, …, R̂, R_tail); O(T·dim·b) through BLAS, never forms R.
  void apply_rows(MatView x) const;
  // x ← x·Rᵀ = x·R⁻¹.
  void apply_rows_inverse(MatView x) const;
  // The explicit dim×dim matrix R (for tests).
  Mat matrix() const;
};

// Searches R̂ on x [T×D] (rows cut into blocks of `block`) and, when D mod block = r > 0, the tail
// rotation on the slice x[:, D−r:D] with seed derive_seed(opts.seed, 1). per_block: one R̂_k per full
// block k, searched on x[:, k·b:(k+1)·b] alone with seed derive_seed(opts.seed, 2 + k) (full_result then
// gets block 0's search). Throws duq::Error when block < 1 or block > D.
BlockRotation search_block_rotation(ConstMatView x, int64_t block, const GreedyOptions& opts,
                                    GreedyResult* full_result = nullptr, bool per_block = false);

}  // namespace duq::transform
