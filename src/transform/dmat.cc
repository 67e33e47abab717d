#include "transform/dmat.h"

#include <utility>

namespace duq::transform {

MatD matmul(const MatD& a, const MatD& b) {
  DUQ_CHECK(a.cols() == b.rows(), "MatD matmul shapes");
  MatD c(a.rows(), b.cols());
  for (int64_t i = 0; i < a.rows(); ++i)
    for (int64_t k = 0; k < a.cols(); ++k) {
      const double aik = a(i, k);
      if (aik == 0.0) continue;
      const double* br = b.row(k);
      double* cr = c.row(i);
      for (int64_t j = 0; j < b.cols(); ++j) cr[j] += aik * br[j];
    }
  return c;
}

void swap_rows_cols(MatD& m, int64_t i, int64_t j) {
  DUQ_CHECK(m.rows() == m.cols() && i >= 0 && j >= 0 && i < m.rows() && j < m.rows(), "swap_rows_cols");
  if (i == j) return;
  for (int64_t c = 0; c < m.cols(); ++c) std::swap(m(i, c), m(j, c));
  for (int64_t r = 0; r < m.rows(); ++r) std::swap(m(r, i), m(r, j));
}

Mat to_float(const MatD& m) {
  Mat f(m.rows(), m.cols());
  for (int64_t k = 0; k < m.rows() * m.cols(); ++k) f.data()[k] = static_cast<float>(m.data()[k]);
  return f;
}

MatD to_double(ConstMatView m) {
  MatD d(m.rows, m.cols);
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) d(i, j) = m(i, j);
  return d;
}

}  // namespace duq::transform
