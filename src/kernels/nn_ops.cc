#include "kernels/nn_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/multi_isa.h"
#include "core/threads.h"

namespace duq::kernels {

void rmsnorm(ConstMatView x, std::span<const float> w, float eps, MatView y) {
  DUQ_CHECK(x.cols == static_cast<int64_t>(w.size()) && y.rows == x.rows && y.cols == x.cols);
  for_rows(x.rows, x.cols, [&](int64_t r0, int64_t r1) {
    for (int64_t t = r0; t < r1; ++t) {
      const float* xr = x.row(t);
      float* yr = y.row(t);
      double ss = 0;
      for (int64_t j = 0; j < x.cols; ++j) ss += static_cast<double>(xr[j]) * xr[j];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(x.cols) + eps));
      for (int64_t j = 0; j < x.cols; ++j) yr[j] = xr[j] * inv * w[static_cast<size_t>(j)];
    }
  });
}

// Compiled for three ISAs, chosen at load time by the ifunc resolver (the loops vectorise per ISA).
DUQ_MULTI_ISA void softmax(std::span<float> x, float scale) {
  if (x.empty()) return;
  float* v = x.data();
  const size_t n = x.size();
  float mx = v[0];
  for (size_t i = 1; i < n; ++i) mx = v[i] > mx ? v[i] : mx;
  // softmax(scale·x): scale > 0 keeps the argmax, so subtracting scale·max keeps exponents ≤ 0.
  for (size_t i = 0; i < n; ++i) v[i] = exp_approx((v[i] - mx) * scale);
  // 8 partial sums: a fixed, vectorisable summation order (no -ffast-math needed).
  float part[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += v[i + static_cast<size_t>(k)];
  float sum = 0;
  for (; i < n; ++i) sum += v[i];
  for (float p : part) sum += p;
  const float inv = 1.f / sum;
  for (size_t j = 0; j < n; ++j) v[j] *= inv;
}

void softmax_rows(MatView x, int64_t n_valid_from_row0, bool causal_offset, float scale) {
  for_rows(x.rows, x.cols, [&](int64_t r0, int64_t r1) {
    for (int64_t t = r0; t < r1; ++t) {
      int64_t n = causal_offset ? std::min<int64_t>(x.cols, n_valid_from_row0 + t) : x.cols;
      float* r = x.row(t);
      softmax({r, static_cast<size_t>(n)}, scale);
      std::fill(r + n, r + x.cols, 0.f);
    }
  });
}

namespace {
// Rows [r0, r1) of swiglu (a separate function so that target_clones vectorises it per ISA).
DUQ_MULTI_ISA void swiglu_rows(ConstMatView gate, ConstMatView up, MatView out, int64_t r0, int64_t r1) {
  for (int64_t t = r0; t < r1; ++t) {
    const float* g = gate.row(t);
    const float* u = up.row(t);
    float* o = out.row(t);
    for (int64_t j = 0; j < gate.cols; ++j) o[j] = g[j] / (1.f + exp_approx(-g[j])) * u[j];
  }
}
}  // namespace

void swiglu(ConstMatView gate, ConstMatView up, MatView out) {
  DUQ_CHECK(gate.rows == up.rows && gate.cols == up.cols && out.rows == gate.rows && out.cols == gate.cols);
  for_rows(gate.rows, gate.cols, [&](int64_t r0, int64_t r1) { swiglu_rows(gate, up, out, r0, r1); });
}

namespace {
std::vector<double> plain_inv_freq(int hd, float theta) {
  std::vector<double> f(static_cast<size_t>(hd / 2));
  for (int i = 0; i < hd / 2; ++i) f[static_cast<size_t>(i)] = std::pow(static_cast<double>(theta), -2.0 * i / hd);
  return f;
}
}  // namespace

RopeTable::RopeTable(int max_pos, int hd, float theta) : RopeTable(max_pos, plain_inv_freq(hd, theta)) {}

RopeTable::RopeTable(int max_pos, std::span<const double> inv_freq)
    : head_dim(static_cast<int>(2 * inv_freq.size())), cos(max_pos, head_dim / 2), sin(max_pos, head_dim / 2) {
  for (int p = 0; p < max_pos; ++p)
    for (int i = 0; i < head_dim / 2; ++i) {
      const double a = p * inv_freq[static_cast<size_t>(i)];
      cos(p, i) = static_cast<float>(std::cos(a));
      sin(p, i) = static_cast<float>(std::sin(a));
    }
}

void rope(MatView x, int n_heads, int pos0, const RopeTable& table, bool interleaved) {
  const int hd = table.head_dim, half = hd / 2;
  DUQ_CHECK(x.cols == static_cast<int64_t>(n_heads) * hd);
  DUQ_CHECK(pos0 + x.rows <= table.cos.rows(), "position beyond the RoPE table");
  for_rows(x.rows, x.cols, [&](int64_t r0, int64_t r1) {
    for (int64_t t = r0; t < r1; ++t) {
      const float* c = table.cos.row(pos0 + t);
      const float* s = table.sin.row(pos0 + t);
      for (int h = 0; h < n_heads; ++h) {
        float* v = x.row(t) + static_cast<int64_t>(h) * hd;
        for (int i = 0; i < half; ++i) {
          const int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
          const float v0 = v[a], v1 = v[b];
          v[a] = v0 * c[i] - v1 * s[i];
          v[b] = v0 * s[i] + v1 * c[i];
        }
      }
    }
  });
}

void for_rows(int64_t rows, int64_t cols, const std::function<void(int64_t, int64_t)>& body) {
  constexpr int64_t kMinParallelElems = 1 << 16;  // below this a fork costs more than the loop
  if (rows < 2 || rows * cols < kMinParallelElems) body(0, rows);
  else parallel_ranges(rows, body);
}

void subtract_from_rows(MatView x, std::span<const float> c) {
  DUQ_CHECK(static_cast<int64_t>(c.size()) == x.cols);
  for (int64_t t = 0; t < x.rows; ++t) {
    float* xr = x.row(t);
    for (int64_t j = 0; j < x.cols; ++j) xr[j] -= c[static_cast<size_t>(j)];
  }
}

void add_rows(MatView x, ConstMatView y) {
  DUQ_CHECK(x.rows == y.rows && x.cols == y.cols);
  for_rows(x.rows, x.cols, [&](int64_t r0, int64_t r1) {
    for (int64_t t = r0; t < r1; ++t) {
      float* xr = x.row(t);
      const float* yr = y.row(t);
      for (int64_t j = 0; j < x.cols; ++j) xr[j] += yr[j];
    }
  });
}

}  // namespace duq::kernels
