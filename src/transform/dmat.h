// Small dense double-precision matrices for building rotations (b×b, b ≤ a few thousand). Rotations are
// built and multiplied in double and rounded to float once, so a float R̂ is orthogonal to ~1e-7
// no matter how many factors it has.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace duq::transform {

struct MatD {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;  // row-major
  MatD() = default;
  MatD(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double& operator()(int64_t i, int64_t j) { return v[static_cast<size_t>(i * cols + j)]; }
  double operator()(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * cols + j)]; }
  static MatD identity(int64_t n);
};

MatD matmul(const MatD& a, const MatD& b);
// Exchanges rows i and j, then columns i and j (the spec's Swap(·, i, j)).
void swap_rows_cols(MatD& m, int64_t i, int64_t j);
Mat to_float(const MatD& m);
MatD to_double(ConstMatView m);

}  // namespace duq::transform
