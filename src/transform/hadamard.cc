#include "transform/hadamard.h"

#include <bit>
#include <cmath>

#include "core/rng.h"
#include "kernels/gemm_f32.h"
#include "transform/orthogonal.h"

namespace duq::transform {

namespace {

bool is_prime(int64_t q) {
  if (q < 2) return false;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0) return false;
  return true;
}

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
  const int64_t q = order - 1;
  if (order < 4 || !is_prime(q) || q % 4 != 3) return {};
  // Quadratic character χ on GF(q); Jacobsthal Q[a][b] = χ(a − b) is skew-symmetric for q ≡ 3 mod 4,
  // and H = I + [[0, 1ᵀ], [−1, Q]] is a (skew) Hadamard matrix of order q + 1.
  std::vector<int> chi(static_cast<size_t>(q), -1);
  chi[0] = 0;
  for (int64_t x = 1; x < q; ++x) chi[static_cast<size_t>((x * x) % q)] = 1;
  MatD h(order, order);
  for (int64_t j = 1; j < order; ++j) h(0, j) = 1, h(j, 0) = -1;
  for (int64_t a = 0; a < q; ++a)
    for (int64_t b = 0; b < q; ++b) h(a + 1, b + 1) = chi[static_cast<size_t>(((a - b) % q + q) % q)];
  for (int64_t i = 0; i < order; ++i) h(i, i) += 1;
  const double v = 1.0 / std::sqrt(static_cast<double>(order));
  for (auto& e : h.v) e *= v;
  return h;
}

Hadamard::Hadamard(int64_t n, uint64_t seed) : n_(n) {
  if (n < 1) fail("Hadamard size must be positive (got ", n, ")");
  p_ = n & -n;  // largest power of two dividing n
  m_ = n / p_;
  if (m_ == 1) return;
  for (int64_t pj = 1; pj <= p_; pj *= 2) {
    MatD a = paley_hadamard(m_ * pj);
    if (a.rows > 0) {
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
  if (m_ == 1) return;
  // Row as X̃ [m×p] (segment i = row i): y = x·(A ⊗ H_p) ⇔ Ỹ = Aᵀ·(X̃·H_p).
  Mat tmp(m_, p_);
  for (int64_t i = 0; i < x.rows; ++i) {
    MatView xt(x.row(i), m_, p_);
    kernels::matmul_at_b(a_, xt, tmp);
    std::copy(tmp.data(), tmp.data() + n_, x.row(i));
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
  h_.apply_rows(x);
  for (int64_t i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j) r[j] *= signs_[static_cast<size_t>(j)];
  }
}

Mat RandomizedHadamard::matrix() const {
  Mat h(size(), size());
  for (int64_t i = 0; i < size(); ++i) h(i, i) = 1.f;
  apply_rows(h);
  return h;
}

}  // namespace duq::transform
