#include "transform/orthogonal.h"

#include <cmath>

namespace duq::transform {

MatD random_orthogonal(int64_t n, Rng& rng) {
  // Work on columns: at[j] is column j of the Gaussian matrix, stored as a row for locality.
  MatD at(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) at(j, i) = rng.normal();
  for (int64_t j = 0; j < n; ++j) {
    double* v = at.row(j);
    // Two passes of classical Gram–Schmidt ("twice is enough"): orthogonal to ~1e-15 in double.
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t i = 0; i < j; ++i) {
        const double* q = at.row(i);
        double r = 0;
        for (int64_t k = 0; k < n; ++k) r += q[k] * v[k];
        for (int64_t k = 0; k < n; ++k) v[k] -= r * q[k];
      }
    double nrm = 0;
    for (int64_t k = 0; k < n; ++k) nrm += v[k] * v[k];
    nrm = std::sqrt(nrm);
    DUQ_CHECK(nrm > 0, "random_orthogonal: rank-deficient Gaussian draw");
    // Dividing by the positive norm is the sign fix: R's diagonal entries are these norms.
    for (int64_t k = 0; k < n; ++k) v[k] /= nrm;
  }
  MatD q(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) q(i, j) = at(j, i);
  return q;
}

MatD base_rotation(int64_t n) {
  MatD r = MatD::identity(n);
  for (int64_t i = 0; i + 1 < n; ++i) {
    const double c = 1.0 / std::sqrt(static_cast<double>(i + 2));
    const double s = std::sqrt(static_cast<double>(i + 1)) / std::sqrt(static_cast<double>(i + 2));
    // Left-multiplying by the Givens matrix only changes rows i and i+1.
    for (int64_t col = 0; col < n; ++col) {
      const double a = r(i, col), b = r(i + 1, col);
      r(i, col) = c * a - s * b;
      r(i + 1, col) = s * a + c * b;
    }
  }
  if (n > 1) swap_rows_cols(r, 0, n - 1);
  return r;
}

MatD randomized_base(int64_t n, Rng& rng) {
  MatD base = base_rotation(n);  // not const: returned (moved) when n ≤ 1
  if (n <= 1) return base;
  const MatD q = random_orthogonal(n - 1, rng);
  MatD d(n, n);
  d(0, 0) = 1.0;
  for (int64_t i = 0; i + 1 < n; ++i)
    for (int64_t j = 0; j + 1 < n; ++j) d(i + 1, j + 1) = q(i, j);
  return matmul(base, d);
}

}  // namespace duq::transform
