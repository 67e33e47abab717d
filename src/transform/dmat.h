// Small dense double-precision matrices for building rotations (b×b, b ≤ a few thousand). Rotations are
// built and multiplied in double and rounded to float once, so a float R̂ is orthogonal to ~1e-7
// no matter how many factors it has.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace duq::transform {

// The core owning matrix in double (MatD::identity(n) is the [n×n] identity).
using MatD = Matrix<double>;

MatD matmul(const MatD& a, const MatD& b);
// Exchanges rows i and j, then columns i and j (the spec's Swap(·, i, j)).
void swap_rows_cols(MatD& m, int64_t i, int64_t j);
Mat to_float(const MatD& m);
MatD to_double(ConstMatView m);

}  // namespace duq::transform
