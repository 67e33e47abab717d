#include "quant/gptq_linalg.h"

#include <algorithm>
#include <cmath>

#include "core/multi_isa.h"
#include "core/threads.h"

namespace duq::quant {

namespace {

// 4 rows of C, JB columns: C[0:4, 0:JB] −= A[0:4, 0:k]·B[0:k, 0:JB], accumulators in registers.
template <class T, int JB>
inline __attribute__((always_inline)) void micro4(int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                                                  int64_t ldc) {
  T acc0[JB] = {}, acc1[JB] = {}, acc2[JB] = {}, acc3[JB] = {};
  for (int64_t p = 0; p < k; ++p) {
    const T a0 = a[p], a1 = a[lda + p], a2 = a[2 * lda + p], a3 = a[3 * lda + p];
    const T* bp = b + p * ldb;
    for (int j = 0; j < JB; ++j) {
      acc0[j] += a0 * bp[j];
      acc1[j] += a1 * bp[j];
      acc2[j] += a2 * bp[j];
      acc3[j] += a3 * bp[j];
    }
  }
  for (int j = 0; j < JB; ++j) {
    c[j] -= acc0[j];
    c[ldc + j] -= acc1[j];
    c[2 * ldc + j] -= acc2[j];
    c[3 * ldc + j] -= acc3[j];
  }
}

template <class T>
inline __attribute__((always_inline)) void gemm_sub_body(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                                                         const T* b, int64_t ldb, T* c, int64_t ldc) {
  constexpr int JB = 128 / sizeof(T);  // two 512-bit registers per row
  constexpr int64_t KC = 256, NC = 512;
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t j1 = std::min(n, j0 + NC);
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
      const int64_t kc = std::min(k, k0 + KC) - k0;
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {
        int64_t j = j0;
        for (; j + JB <= j1; j += JB)
          micro4<T, JB>(kc, a + i * lda + k0, lda, b + k0 * ldb + j, ldb, c + i * ldc + j, ldc);
        for (int64_t r = i; r < i + 4; ++r)
          for (int64_t p = 0; p < kc; ++p) {
            const T ar = a[r * lda + k0 + p];
            for (int64_t jj = j; jj < j1; ++jj) c[r * ldc + jj] -= ar * b[(k0 + p) * ldb + jj];
          }
      }
      for (; i < m; ++i)
        for (int64_t p = 0; p < kc; ++p) {
          const T ar = a[i * lda + k0 + p];
          for (int64_t jj = j0; jj < j1; ++jj) c[i * ldc + jj] -= ar * b[(k0 + p) * ldb + jj];
        }
    }
  }
}

DUQ_MULTI_ISA void gemm_sub_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                                int64_t ldb, float* c, int64_t ldc) {
  gemm_sub_body<float>(m, n, k, a, lda, b, ldb, c, ldc);
}
DUQ_MULTI_ISA void gemm_sub_f64(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                                int64_t ldb, double* c, int64_t ldc) {
  gemm_sub_body<double>(m, n, k, a, lda, b, ldb, c, ldc);
}

// Unblocked lower Cholesky of the kb×kb block at a (leading dimension ld).
bool chol_unblocked(double* a, int64_t kb, int64_t ld) {
  for (int64_t j = 0; j < kb; ++j) {
    double d = a[j * ld + j];
    for (int64_t p = 0; p < j; ++p) d -= a[j * ld + p] * a[j * ld + p];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[j * ld + j] = d;
    for (int64_t i = j + 1; i < kb; ++i) {
      double s = a[i * ld + j];
      for (int64_t p = 0; p < j; ++p) s -= a[i * ld + p] * a[j * ld + p];
      a[i * ld + j] = s / d;
    }
  }
  return true;
}

// Lower-triangular inverse of the n×n block at l (leading dimension ld) into m (leading dimension ld).
void invert_lower_rec(const double* l, double* m, int64_t n, int64_t ld, std::vector<double>& scratch) {
  if (n <= 64) {
    for (int64_t j = 0; j < n; ++j) {
      m[j * ld + j] = 1.0 / l[j * ld + j];
      for (int64_t i = j + 1; i < n; ++i) {
        double s = 0;
        for (int64_t p = j; p < i; ++p) s += l[i * ld + p] * m[p * ld + j];
        m[i * ld + j] = -s / l[i * ld + i];
      }
    }
    return;
  }
  const int64_t n1 = n / 2, n2 = n - n1;
  invert_lower_rec(l, m, n1, ld, scratch);
  invert_lower_rec(l + n1 * ld + n1, m + n1 * ld + n1, n2, ld, scratch);
  // M21 = −M22·L21·M11: T = L21·M11 (as −(−)), then M21 = 0 − M22·T.
  std::vector<double> t(static_cast<size_t>(n2 * n1), 0.0);
  gemm_sub_f64(n2, n1, n1, l + n1 * ld, ld, m, ld, t.data(), n1);
  for (double& v : t) v = -v;
  double* m21 = m + n1 * ld;
  for (int64_t i = 0; i < n2; ++i) std::fill(m21 + i * ld, m21 + i * ld + n1, 0.0);
  gemm_sub_f64(n2, n1, n2, m + n1 * ld + n1, ld, t.data(), n1, m21, ld);
}

}  // namespace

// Rows of C split over the threads in ranges starting at multiples of 4, so every row takes the same path
// (micro-tile or tail) and the same operation order as in one call: bit-identical for any thread count.
template <class T, class F>
void gemm_sub_rows(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, T* c, int64_t ldc, F&& one) {
  constexpr double kMinParallelFlops = 1 << 20;
  const int64_t quads = (m + 3) / 4;
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kMinParallelFlops || quads < 2) {
    one(0, m);
    return;
  }
  parallel_ranges(quads, [&](int64_t q0, int64_t q1) { one(4 * q0, std::min(m, 4 * q1)); });
}

void gemm_sub(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc) {
  gemm_sub_rows(m, n, k, a, lda, c, ldc, [&](int64_t r0, int64_t r1) {
    gemm_sub_f32(r1 - r0, n, k, a + r0 * lda, lda, b, ldb, c + r0 * ldc, ldc);
  });
}
void gemm_sub(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb, double* c,
              int64_t ldc) {
  gemm_sub_rows(m, n, k, a, lda, c, ldc, [&](int64_t r0, int64_t r1) {
    gemm_sub_f64(r1 - r0, n, k, a + r0 * lda, lda, b, ldb, c + r0 * ldc, ldc);
  });
}

bool cholesky_lower(std::vector<double>& av, int64_t n) {
  constexpr int64_t NB = 96;
  double* a = av.data();
  std::vector<double> bt;
  for (int64_t k0 = 0; k0 < n; k0 += NB) {
    const int64_t kb = std::min(NB, n - k0), k1 = k0 + kb, m = n - k1;
    if (!chol_unblocked(a + k0 * n + k0, kb, n)) return false;
    // Panel: L21 = A21·L11⁻ᵀ, row by row (forward substitution; rows are independent: split over threads).
    parallel_ranges(n - k1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = k1 + i0; i < k1 + i1; ++i) {
        double* x = a + i * n + k0;
        for (int64_t j = 0; j < kb; ++j) {
          double s = x[j];
          const double* lj = a + (k0 + j) * n + k0;
          for (int64_t p = 0; p < j; ++p) s -= x[p] * lj[p];
          x[j] = s / lj[j];
        }
      }
    });
    if (m == 0) break;
    // Trailing update A22 −= L21·L21ᵀ, lower part at block granularity.
    bt.assign(static_cast<size_t>(kb * m), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < kb; ++p) bt[static_cast<size_t>(p * m + i)] = a[(k1 + i) * n + k0 + p];
    // Row blocks of RB write disjoint rows (and read only the panel columns): split over the threads (the
    // later blocks are wider, so the split is uneven; this is a small part of GPTQ's time).
    constexpr int64_t RB = 128;
    parallel_for((m + RB - 1) / RB, [&](int64_t blk) {
      const int64_t r0 = blk * RB, rb = std::min(RB, m - r0);
      gemm_sub_f64(rb, r0 + rb, kb, a + (k1 + r0) * n + k0, n, bt.data(), m, a + (k1 + r0) * n + k1, n);
    });
  }
  for (int64_t i = 0; i < n; ++i) std::fill(a + i * n + i + 1, a + (i + 1) * n, 0.0);
  return true;
}

void invert_lower(std::vector<double>& l, int64_t n) {
  std::vector<double> m(static_cast<size_t>(n * n), 0.0), scratch;
  invert_lower_rec(l.data(), m.data(), n, n, scratch);
  l.swap(m);
}

bool inverse_upper_cholesky(const std::vector<double>& h, int64_t n, std::vector<double>& u) {
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      a[static_cast<size_t>(i * n + j)] = h[static_cast<size_t>((n - 1 - i) * n + (n - 1 - j))];
  if (!cholesky_lower(a, n)) return false;
  invert_lower(a, n);
  u.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      u[static_cast<size_t>(i * n + j)] = a[static_cast<size_t>((n - 1 - i) * n + (n - 1 - j))];
  return true;
}

}  // namespace duq::quant
