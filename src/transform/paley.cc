#include "transform/paley.h"

#include <cmath>
#include <vector>

namespace duq::transform {

namespace {

// GF(q), q = p^k (k ≤ 3), elements 0..q−1 as base-p coefficient vectors.
struct FiniteField {
  int64_t p = 0, k = 0, q = 0;
  std::vector<int64_t> modulus;  // f = x^k + Σ modulus[i]·x^i, i < k

  std::vector<int64_t> digits(int64_t a) const {
    std::vector<int64_t> d(static_cast<size_t>(k));
    for (auto& v : d) v = a % p, a /= p;
    return d;
  }
  int64_t number(const std::vector<int64_t>& d) const {
    int64_t a = 0;
    for (size_t i = d.size(); i-- > 0;) a = a * p + d[i];
    return a;
  }
  int64_t sub(int64_t a, int64_t b) const {
    if (k == 1) return ((a - b) % p + p) % p;  // prime field: plain residues (no allocation)
    auto da = digits(a), db = digits(b);
    for (size_t i = 0; i < da.size(); ++i) da[i] = ((da[i] - db[i]) % p + p) % p;
    return number(da);
  }
  int64_t mul(int64_t a, int64_t b) const {
    if (k == 1) return (a * b) % p;
    const auto da = digits(a), db = digits(b);
    std::vector<int64_t> r(static_cast<size_t>(2 * k), 0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        r[static_cast<size_t>(i + j)] = (r[static_cast<size_t>(i + j)] + da[i] * db[j]) % p;
    // Reduce x^d for d ≥ k with x^k = −Σ modulus[i]·x^i.
    for (int64_t d = 2 * k - 1; d >= k; --d) {
      const int64_t c = r[static_cast<size_t>(d)];
      r[static_cast<size_t>(d)] = 0;
      for (int64_t i = 0; i < k; ++i)
        r[static_cast<size_t>(d - k + i)] =
            ((r[static_cast<size_t>(d - k + i)] - c * modulus[static_cast<size_t>(i)]) % p + p) % p;
    }
    r.resize(static_cast<size_t>(k));
    return number(r);
  }
};

// q = p^k with p prime and k ≤ 3 (a field this file can build), else false.
bool prime_power(int64_t q, int64_t& p, int64_t& k) {
  if (q < 2) return false;
  p = 2;
  while (p * p <= q && q % p != 0) ++p;
  if (q % p != 0) p = q;
  k = 0;
  for (int64_t r = q; r > 1; r /= p, ++k)
    if (r % p != 0) return false;
  return k <= 3;
}

bool make_field(int64_t q, FiniteField& f) {
  if (!prime_power(q, f.p, f.k)) return false;
  f.q = q;
  f.modulus.assign(static_cast<size_t>(f.k), 0);
  if (f.k == 1) return true;
  // First monic f of degree k ≤ 3 with no root in GF(p) (then irreducible).
  for (int64_t code = 0; code < q; ++code) {
    int64_t c = code;
    for (auto& m : f.modulus) m = c % f.p, c /= f.p;
    bool root = false;
    for (int64_t x = 0; x < f.p && !root; ++x) {
      int64_t v = 1;  // Horner on x^k + m_{k−1}x^{k−1} + … + m_0
      for (int64_t i = f.k - 1; i >= 0; --i) v = (v * x + f.modulus[static_cast<size_t>(i)]) % f.p;
      root = v == 0;
    }
    if (!root) return true;
  }
  return false;
}

// Jacobsthal matrix Q[a][b] = χ(a − b) of GF(q).
std::vector<int> jacobsthal(const FiniteField& f) {
  const auto q = static_cast<size_t>(f.q);
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int64_t x = 1; x < f.q; ++x) chi[static_cast<size_t>(f.mul(x, x))] = 1;
  std::vector<int> jac(q * q);
  for (int64_t a = 0; a < f.q; ++a)
    for (int64_t b = 0; b < f.q; ++b)
      jac[static_cast<size_t>(a) * q + static_cast<size_t>(b)] = chi[static_cast<size_t>(f.sub(a, b))];
  return jac;
}

}  // namespace

MatD paley1_pm1(int64_t order) {
  FiniteField f;
  if (order < 4 || (order - 1) % 4 != 3 || !make_field(order - 1, f)) return {};
  const std::vector<int> jac = jacobsthal(f);
  MatD h(order, order);
  for (int64_t j = 1; j < order; ++j) h(0, j) = 1, h(j, 0) = -1;
  for (int64_t a = 0; a < f.q; ++a)
    for (int64_t b = 0; b < f.q; ++b) h(a + 1, b + 1) = jac[static_cast<size_t>(a * f.q + b)];
  for (int64_t i = 0; i < order; ++i) h(i, i) += 1;
  return h;
}

MatD paley2_pm1(int64_t order) {
  FiniteField f;
  if (order < 12 || order % 4 != 0 || (order / 2 - 1) % 4 != 1 || !make_field(order / 2 - 1, f)) return {};
  const std::vector<int> jac = jacobsthal(f);
  const int64_t c_order = f.q + 1;
  MatD c(c_order, c_order);
  for (int64_t j = 1; j < c_order; ++j) c(0, j) = 1, c(j, 0) = 1;
  for (int64_t a = 0; a < f.q; ++a)
    for (int64_t b = 0; b < f.q; ++b) c(a + 1, b + 1) = jac[static_cast<size_t>(a * f.q + b)];
  MatD h(order, order);
  for (int64_t i = 0; i < c_order; ++i)
    for (int64_t j = 0; j < c_order; ++j) {
      // C ⊗ [[1, 1], [1, −1]] off the diagonal; the zero diagonal of C becomes I ⊗ [[1, −1], [−1, −1]].
      const double v = c(i, j);
      const bool diag = i == j;
      h(2 * i, 2 * j) = diag ? 1 : v;
      h(2 * i, 2 * j + 1) = diag ? -1 : v;
      h(2 * i + 1, 2 * j) = diag ? -1 : v;
      h(2 * i + 1, 2 * j + 1) = diag ? -1 : -v;
    }
  return h;
}

MatD hadamard_of_order(int64_t order) {
  MatD h = paley1_pm1(order);
  if (h.rows() == 0) h = paley2_pm1(order);
  if (h.rows() == 0) return h;
  const double v = 1.0 / std::sqrt(static_cast<double>(order));
  for (auto& e : h.flat()) e *= v;
  return h;
}

}  // namespace duq::transform
