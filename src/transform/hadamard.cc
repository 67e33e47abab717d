#include "transform/hadamard.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/rng.h"
#include "kernels/gemm_f32.h"
#include "transform/orthogonal.h"
#include "transform/paley.h"

namespace duq::transform {

namespace {

// One row of length n (power of two), unnormalised butterflies.
void fwht_unnormalised(float* x, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

void fwht_segments(MatView x, int64_t p) {
  const float norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p)));
  for (int64_t i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    for (int64_t c0 = 0; c0 < x.cols; c0 += p) fwht_unnormalised(r + c0, p);
    if (p > 1)
      for (int64_t j = 0; j < x.cols; ++j) r[j] *= norm;
  }
}

}  // namespace

bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

void fwht_rows(MatView x) {
  if (!is_pow2(x.cols)) fail("fast Walsh–Hadamard transform needs a power-of-two width (got ", x.cols, ")");
  fwht_segments(x, x.cols);
}

MatD sylvester_hadamard(int64_t n) {
  DUQ_CHECK(is_pow2(n), "sylvester_hadamard: n must be a power of two");
  MatD h(n, n);
  const double v = 1.0 / std::sqrt(static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) h(i, j) = (std::popcount(static_cast<uint64_t>(i & j)) & 1) ? -v : v;
  return h;
}

MatD paley_hadamard(int64_t order) {
  MatD h = paley1_pm1(order);
  const double v = 1.0 / std::sqrt(static_cast<double>(order));
  for (auto& e : h.flat()) e *= v;
  return h;
}

Hadamard::Hadamard(int64_t n, uint64_t seed) : n_(n) {
  if (n < 1) fail("Hadamard size must be positive (got ", n, ")");
  p_ = n & -n;  // largest power of two dividing n
  m_ = n / p_;
  if (m_ == 1) return;
  for (int64_t pj = 1; pj <= p_; pj *= 2) {
    MatD a = hadamard_of_order(m_ * pj);
    if (a.rows() > 0) {
      m_ *= pj;
      p_ /= pj;
      a_ = to_float(a);
      return;
    }
  }
  exact_ = false;
  Rng rng(seed);
  a_ = to_float(random_orthogonal(m_, rng));
}

void Hadamard::apply_rows(MatView x) const {
  DUQ_CHECK(x.cols == n_, "Hadamard::apply_rows width ", x.cols, " != ", n_);
  fwht_segments(x, p_);
  if (m_ == 1 || x.rows == 0) return;
  // Row t as X̃_t [m×p] (segment i = row i): y = x·(A ⊗ H_p) ⇔ Ỹ_t = Aᵀ·(X̃_t·H_p). A batch of R rows is
  // one GEMM Aᵀ·[X̃_1 … X̃_R] ([m×m]·[m × R·p]); batches of ~1 MiB keep B and C in cache.
  const int64_t batch = std::max<int64_t>(1, (int64_t{1} << 18) / n_);
  Mat b(m_, batch * p_), c(m_, batch * p_);
  for (int64_t t0 = 0; t0 < x.rows; t0 += batch) {
    const int64_t r = std::min(batch, x.rows - t0);
    MatView bv(b.data(), m_, r * p_, batch * p_), cv(c.data(), m_, r * p_, batch * p_);
    for (int64_t t = 0; t < r; ++t)
      for (int64_t i = 0; i < m_; ++i) std::copy_n(x.row(t0 + t) + i * p_, p_, bv.row(i) + t * p_);
    kernels::matmul_at_b(a_, bv, cv);
    for (int64_t t = 0; t < r; ++t)
      for (int64_t i = 0; i < m_; ++i) std::copy_n(cv.row(i) + t * p_, p_, x.row(t0 + t) + i * p_);
  }
}

Mat Hadamard::matrix() const {
  Mat h(n_, n_);
  for (int64_t i = 0; i < n_; ++i) h(i, i) = 1.f;
  apply_rows(h);  // I·H = H
  return h;
}

RandomizedHadamard::RandomizedHadamard(int64_t n, uint64_t seed)
    : h_(n, seed ^ 0x5deece66dULL), signs_(static_cast<size_t>(n)) {
  Rng rng(seed);
  for (auto& s : signs_) s = rng.below(2) ? 1.f : -1.f;
}

void RandomizedHadamard::apply_rows(MatView x) const {
  DUQ_CHECK(x.cols == size(), "RandomizedHadamard::apply_rows width ", x.cols, " != ", size());
  for (int64_t i = 0; i < x.rows; ++i) {  // x ⊙ s first (QuaRot's diag(s)·H) ...
    float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j) r[j] *= signs_[static_cast<size_t>(j)];
  }
  h_.apply_rows(x);  // ... then the mixing
}

Mat RandomizedHadamard::matrix() const {
  Mat h(size(), size());
  for (int64_t i = 0; i < size(); ++i) h(i, i) = 1.f;
  apply_rows(h);
  return h;
}

}  // namespace duq::transform
