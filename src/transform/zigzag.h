// Zigzag channel permutation (spec §2): balances the largest channels across rotation blocks.
// Channels sorted by m_j descending (stable: equal maxima keep index order) are dealt to the blocks
// 0, 1, …, K−1, K−1, …, 1, 0, 0, 1, … (back and forth, the end blocks served twice in a row), then each
// block is sorted descending (stable) and the blocks are concatenated.
// Trailing partial block (D = K·b + r, 0 < r < b): it takes part in the dealing as block K with
// capacity r; a full block is passed over (the cursor keeps moving in its direction). Capacities sum to D,
// so the result is a bijection, and for r = 0 it is exactly the reference's zigzag.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace duq::transform {

// perm[i] = source column of new column i, i.e. x_new = x[:, perm] (= x·P with P[perm[i], i] = 1).
std::vector<int64_t> zigzag_permutation(std::span<const float> channel_max, int64_t block);

// x [R×C] ← x[:, perm] in place (one row buffer).
void permute_columns(MatView x, std::span<const int64_t> perm);
std::vector<int64_t> inverse_permutation(std::span<const int64_t> perm);

}  // namespace duq::transform
