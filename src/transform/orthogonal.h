// Random orthogonal matrices and the deterministic "Base" rotation of the greedy search (spec §2).
#pragma once
#include <cstdint>

#include "core/rng.h"
#include "transform/dmat.h"

namespace duq::transform {

// Haar-random orthogonal n×n: the Q of a QR factorisation of an n×n standard Gaussian matrix (filled
// row-major from rng), sign-fixed so that R has a positive diagonal (which makes Q unique and the
// distribution Haar). Gram–Schmidt with re-orthogonalisation, in double. n = 0 gives an empty matrix.
MatD random_orthogonal(int64_t n, Rng& rng);

// Base(n): I, left-multiplied by the Givens rotations on (i, i+1) for i = 0..n−2 with
// cos = 1/√(i+2), sin = √(i+1)/√(i+2) and entry [i, i+1] = −sin; then rows and columns 0 and n−1
// swapped. Its first row is 1/√n everywhere: Y·Swap(Base, 0, k) spreads column k evenly over the block.
MatD base_rotation(int64_t n);

// Base(n) · blockdiag(1, Q') with Q' a random orthogonal (n−1)×(n−1) drawn from rng: the B of the
// greedy search (the reference's get_rot). Row 0 keeps its first entry 1/√n and unit norm; Q' randomises
// how the rest of the swapped-in channel is spread over columns 1..n−1. Built in double.
MatD randomized_base(int64_t n, Rng& rng);

}  // namespace duq::transform
