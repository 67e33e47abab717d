// Helpers for the transform tests: random matrices, products and orthogonality in double.
#pragma once
#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "core/tensor.h"

namespace duq::transform::test {

inline Mat gaussian(int64_t r, int64_t c, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  Mat m(r, c);
  for (auto& v : m.flat()) v = static_cast<float>(scale * rng.normal());
  return m;
}

// C = A·B in double (independent of BLAS).
inline Mat product(ConstMatView a, ConstMatView b) {
  Mat c(a.rows, b.cols);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < b.cols; ++j) {
      double s = 0;
      for (int64_t k = 0; k < a.cols; ++k) s += static_cast<double>(a(i, k)) * b(k, j);
      c(i, j) = static_cast<float>(s);
    }
  return c;
}

inline Mat transpose(ConstMatView a) {
  Mat t(a.cols, a.rows);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.cols; ++j) t(j, i) = a(i, j);
  return t;
}

// max |RᵀR − I| computed in double.
inline double orthogonality_error(ConstMatView r) {
  double worst = 0;
  for (int64_t i = 0; i < r.cols; ++i)
    for (int64_t j = 0; j < r.cols; ++j) {
      double s = 0;
      for (int64_t k = 0; k < r.rows; ++k) s += static_cast<double>(r(k, i)) * r(k, j);
      worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

inline float max_abs(ConstMatView x) {
  float m = 0;
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) m = std::max(m, std::fabs(x(i, j)));
  return m;
}

inline double max_rel_diff(ConstMatView a, ConstMatView b) {
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.cols; ++j) {
      scale = std::max(scale, std::fabs(static_cast<double>(b(i, j))));
      worst = std::max(worst, std::fabs(static_cast<double>(a(i, j)) - b(i, j)));
    }
  return worst / std::max(scale, 1e-30);
}

}  // namespace duq::transform::test
