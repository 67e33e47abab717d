#include "calib/block_grad.h"

#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "kernels/act_quant.h"
#include "kernels/gemm_f32.h"
#include "model/rope_freq.h"

namespace duq::calib {

namespace {

template <class T>
using CV = MatViewT<const T>;
template <class T>
using MV = MatViewT<T>;

// C = A·Bᵀ  (A [m×k], B [n×k])
template <class T>
void mm_abt(CV<T> a, CV<T> b, MV<T> c, bool acc = false) {
  DUQ_CHECK(a.cols == b.cols && c.rows == a.rows && c.cols == b.rows);
  if constexpr (std::is_same_v<T, float>) {
    kernels::matmul_xwt(a, b, c, acc);
  } else {
    for (int64_t i = 0; i < a.rows; ++i)
      for (int64_t j = 0; j < b.rows; ++j) {
        T s = 0;
        for (int64_t k = 0; k < a.cols; ++k) s += a(i, k) * b(j, k);
        c(i, j) = acc ? c(i, j) + s : s;
      }
  }
}
// C = A·B  (A [m×k], B [k×n])
template <class T>
void mm_ab(CV<T> a, CV<T> b, MV<T> c, bool acc = false) {
  DUQ_CHECK(a.cols == b.rows && c.rows == a.rows && c.cols == b.cols);
  if constexpr (std::is_same_v<T, float>) {
    kernels::matmul(a, b, c, acc);
  } else {
    for (int64_t i = 0; i < a.rows; ++i) {
      if (!acc)
        for (int64_t j = 0; j < b.cols; ++j) c(i, j) = 0;
      for (int64_t k = 0; k < a.cols; ++k) {
        const T aik = a(i, k);
        for (int64_t j = 0; j < b.cols; ++j) c(i, j) += aik * b(k, j);
      }
    }
  }
}
// C = Aᵀ·B  (A [k×m], B [k×n])
template <class T>
void mm_atb(CV<T> a, CV<T> b, MV<T> c, bool acc = false) {
  DUQ_CHECK(a.rows == b.rows && c.rows == a.cols && c.cols == b.cols);
  if constexpr (std::is_same_v<T, float>) {
    kernels::matmul_at_b(a, b, c, acc);
  } else {
    if (!acc)
      for (int64_t i = 0; i < c.rows; ++i)
        for (int64_t j = 0; j < c.cols; ++j) c(i, j) = 0;
    for (int64_t k = 0; k < a.rows; ++k)
      for (int64_t i = 0; i < a.cols; ++i) {
        const T aki = a(k, i);
        for (int64_t j = 0; j < b.cols; ++j) c(i, j) += aki * b(k, j);
      }
  }
}

// x·G when G is given, else a copy.
template <class T>
Matrix<T> times(const Matrix<T>& x, const Matrix<T>& g) {
  if (g.empty()) return x;
  Matrix<T> out(x.rows(), g.cols());
  mm_ab<T>(x.view(), g.view(), out.view());
  return out;
}
// dx·Gᵀ when G is given (the backward of times), else a copy.
template <class T>
Matrix<T> times_t(const Matrix<T>& dx, const Matrix<T>& g) {
  if (g.empty()) return dx;
  Matrix<T> out(dx.rows(), g.rows());
  mm_abt<T>(dx.view(), g.view(), out.view());
  return out;
}
// Rows of hd values (head-major inside a token) times r [hd×hd] or rᵀ.
template <class T>
void rotate_head_rows(Matrix<T>& x, int64_t hd, const Matrix<T>& r, bool transpose) {
  if (r.empty()) return;
  CV<T> in(x.data(), x.rows() * x.cols() / hd, hd);
  Matrix<T> out(in.rows, hd);
  if (transpose) mm_abt<T>(in, r.view(), out.view());
  else mm_ab<T>(in, r.view(), out.view());
  out.reshape(x.rows(), x.cols());
  x = std::move(out);
}

template <class T>
void rmsnorm_fwd(const Matrix<T>& x, const std::vector<T>& w, T eps, Matrix<T>& y, std::vector<T>& inv) {
  inv.assign(static_cast<size_t>(x.rows()), T(0));
  for (int64_t t = 0; t < x.rows(); ++t) {
    T ss = 0;
    for (int64_t j = 0; j < x.cols(); ++j) ss += x(t, j) * x(t, j);
    const T r = T(1) / std::sqrt(ss / static_cast<T>(x.cols()) + eps);
    inv[static_cast<size_t>(t)] = r;
    for (int64_t j = 0; j < x.cols(); ++j) y(t, j) = x(t, j) * r * w[static_cast<size_t>(j)];
  }
}
// dx += ∂(RMSNorm(x)·w)/∂x applied to dy.
template <class T>
void rmsnorm_bwd(const Matrix<T>& x, const std::vector<T>& w, const std::vector<T>& inv, const Matrix<T>& dy,
                 Matrix<T>& dx) {
  const T n = static_cast<T>(x.cols());
  for (int64_t t = 0; t < x.rows(); ++t) {
    const T r = inv[static_cast<size_t>(t)];
    T dot = 0;
    for (int64_t j = 0; j < x.cols(); ++j) dot += dy(t, j) * w[static_cast<size_t>(j)] * x(t, j);
    const T c = r * r * r / n * dot;
    for (int64_t j = 0; j < x.cols(); ++j) dx(t, j) += r * w[static_cast<size_t>(j)] * dy(t, j) - c * x(t, j);
  }
}

template <class T>
void rope_apply(Matrix<T>& x, int64_t n_heads, int64_t hd, const std::vector<T>& cs, const std::vector<T>& sn,
                bool interleaved, bool inverse) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < x.rows(); ++t)
    for (int64_t h = 0; h < n_heads; ++h) {
      T* v = &x(t, h * hd);
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        const T c = cs[static_cast<size_t>(t * half + i)],
                s = inverse ? -sn[static_cast<size_t>(t * half + i)] : sn[static_cast<size_t>(t * half + i)];
        const T v0 = v[a], v1 = v[b];
        v[a] = v0 * c - v1 * s;
        v[b] = v0 * s + v1 * c;
      }
    }
}

// Asymmetric grid of one row (as quant::group_params, in T).
template <class T>
struct RowGrid {
  T scale, zero;
  bool scale_clamped;
  int64_t imin, imax;
};
template <class T>
RowGrid<T> row_grid(const T* x, int64_t n, int bits, float clip) {
  int64_t imin = 0, imax = 0;
  for (int64_t j = 1; j < n; ++j) {
    if (x[j] < x[imin]) imin = j;
    if (x[j] > x[imax]) imax = j;
  }
  const T qmax = static_cast<T>((1 << bits) - 1);
  const T lo = static_cast<T>(clip) * x[imin], hi = static_cast<T>(clip) * x[imax];
  const T raw = (hi - lo) / qmax;
  const T smin = static_cast<T>(1e-5f), smax = static_cast<T>(1e4f);
  RowGrid<T> g;
  g.scale = std::min(std::max(raw, smin), smax);
  g.scale_clamped = !(raw > smin && raw < smax);
  g.zero = std::nearbyint(std::min(std::max(-lo / g.scale, -smax), smax));
  g.imin = imin;
  g.imax = imax;
  return g;
}

}  // namespace

template <class T>
void act_fake_quant_rows(T* x, int64_t rows, int64_t n, int bits, float clip) {
  if (bits >= 16) return;
  const T qmax = static_cast<T>((1 << bits) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    T* row = x + r * n;
    const RowGrid<T> g = row_grid(row, n, bits, clip);
    for (int64_t j = 0; j < n; ++j) {
      const T c = std::min(std::max(std::nearbyint(row[j] / g.scale) + g.zero, T(0)), qmax);
      row[j] = (c - g.zero) * g.scale;
    }
  }
}

template <class T>
void act_fake_quant_rows_grad(const T* x, const T* gout, T* gin, int64_t rows, int64_t n, int bits, float clip,
                              bool scale_grad) {
  if (bits >= 16) {
    std::copy(gout, gout + rows * n, gin);
    return;
  }
  const T qmax = static_cast<T>((1 << bits) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * n;
    const T* go = gout + r * n;
    T* gi = gin + r * n;
    const RowGrid<T> g = row_grid(row, n, bits, clip);
    T ds = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T u = row[j] / g.scale;
      const T c = std::nearbyint(u) + g.zero;
      const bool inside = c >= 0 && c <= qmax;
      gi[j] = inside ? go[j] : T(0);
      const T cc = std::min(std::max(c, T(0)), qmax);
      ds += go[j] * ((cc - g.zero) - (inside ? u : T(0)));
    }
    if (scale_grad && !g.scale_clamped) {
      const T k = static_cast<T>(clip) / qmax;
      gi[g.imax] += ds * k;
      gi[g.imin] -= ds * k;
    }
  }
}

// A linear input's quantizer (site s): per token over all n columns, or with wide channels (--wide-channels,
// calib/wide_channels.h) the other columns at `bits` over their own range and the wide ones at kWideBits,
// clip 1 — kernels::quantize_acts_split's grid. Gathered into two contiguous parts, quantized, scattered back.
template <class T>
static void split_parts(const T* x, int64_t rows, int64_t n, const std::vector<int32_t>& wide, std::vector<T>& narrow,
                        std::vector<T>& wide_part) {
  const int64_t kw = static_cast<int64_t>(wide.size()), kn = n - kw;
  narrow.resize(static_cast<size_t>(rows * kn));
  wide_part.resize(static_cast<size_t>(rows * kw));
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * n;
    int64_t a = 0, b = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (b < kw && wide[static_cast<size_t>(b)] == j) wide_part[static_cast<size_t>(r * kw + b++)] = row[j];
      else narrow[static_cast<size_t>(r * kn + a++)] = row[j];
    }
  }
}
template <class T>
static void merge_parts(T* x, int64_t rows, int64_t n, const std::vector<int32_t>& wide, const std::vector<T>& narrow,
                        const std::vector<T>& wide_part) {
  const int64_t kw = static_cast<int64_t>(wide.size()), kn = n - kw;
  for (int64_t r = 0; r < rows; ++r) {
    T* row = x + r * n;
    int64_t a = 0, b = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (b < kw && wide[static_cast<size_t>(b)] == j) row[j] = wide_part[static_cast<size_t>(r * kw + b++)];
      else row[j] = narrow[static_cast<size_t>(r * kn + a++)];
    }
  }
}

template <class T>
void act_fake_quant_site(T* x, int64_t rows, int64_t n, int bits, float clip, const std::vector<int32_t>& wide) {
  if (wide.empty() || bits >= 16) return act_fake_quant_rows(x, rows, n, bits, clip);
  std::vector<T> xn, xw;
  split_parts(x, rows, n, wide, xn, xw);
  const int64_t kw = static_cast<int64_t>(wide.size());
  act_fake_quant_rows(xn.data(), rows, n - kw, bits, clip);
  act_fake_quant_rows(xw.data(), rows, kw, kernels::kWideBits, 1.f);
  merge_parts(x, rows, n, wide, xn, xw);
}

template <class T>
void act_fake_quant_site_grad(const T* x, const T* gout, T* gin, int64_t rows, int64_t n, int bits, float clip,
                              bool scale_grad, const std::vector<int32_t>& wide) {
  if (wide.empty() || bits >= 16) return act_fake_quant_rows_grad(x, gout, gin, rows, n, bits, clip, scale_grad);
  std::vector<T> xn, xw, gn, gwide, in_n, in_w;
  split_parts(x, rows, n, wide, xn, xw);
  split_parts(gout, rows, n, wide, gn, gwide);
  in_n.resize(gn.size());
  in_w.resize(gwide.size());
  const int64_t kw = static_cast<int64_t>(wide.size());
  act_fake_quant_rows_grad(xn.data(), gn.data(), in_n.data(), rows, n - kw, bits, clip, scale_grad);
  act_fake_quant_rows_grad(xw.data(), gwide.data(), in_w.data(), rows, kw, kernels::kWideBits, 1.f, scale_grad);
  merge_parts(gin, rows, n, wide, in_n, in_w);
}

template <class T>
T block_loss_grad(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<T>& p, const Matrix<T>& x,
                  const Matrix<T>& target, Matrix<T>* y_out, std::array<Matrix<T>, kNumLinears>* gw, Matrix<T>* gx,
                  BlockExtraGrads<T>* extra) {
  const int64_t Tn = x.rows(), D = cfg.dim, hd = cfg.head_dim(), nh = cfg.n_heads, nkv = cfg.n_kv_heads;
  const int64_t Q = nh * hd, K = nkv * hd, H = cfg.hidden_dim, half = hd / 2, group = nh / nkv;
  DUQ_CHECK(x.cols() == D && target.rows() == Tn && target.cols() == D, "block_loss_grad: shapes");
  const bool inter = cfg.rope_layout == model::RopeLayout::Interleaved;
  const T eps = static_cast<T>(cfg.rms_eps);
  const auto& W = p.w;
  auto lac = [&](int site) {
    return qs.site_lac[static_cast<size_t>(site)] > 0 ? qs.site_lac[static_cast<size_t>(site)] : qs.lac;
  };

  if (cfg.sliding_window > 0 && Tn > cfg.sliding_window)
    fail("LWC: calibration windows of ", Tn, " tokens exceed the model's sliding window of ", cfg.sliding_window,
         " (use a shorter --calib-ctx)");
  std::vector<T> cs(static_cast<size_t>(Tn * half)), sn(static_cast<size_t>(Tn * half));
  const std::vector<double> inv_freq = model::rope_inv_freq(cfg);
  for (int64_t t = 0; t < Tn; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(t) * inv_freq[static_cast<size_t>(i)];
      cs[static_cast<size_t>(t * half + i)] = static_cast<T>(std::cos(a));
      sn[static_cast<size_t>(t * half + i)] = static_cast<T>(std::sin(a));
    }

  // ---- forward (keeping what the backward needs), in the stages of model::block_forward ----
  Matrix<T> xn1(Tn, D);
  std::vector<T> r1, r2;
  rmsnorm_fwd(x, p.attn_norm, eps, xn1, r1);
  // model::BlockPoint::AttnIn: the attention input, transformed (x·G) and fake-quantized, into W_q, W_k, W_v.
  Matrix<T> a1pre = times(xn1, p.g[0]), a1 = a1pre;
  act_fake_quant_site(a1.data(), Tn, D, qs.abits, lac(0), qs.site_wide[0]);
  Matrix<T> q(Tn, Q), k(Tn, K), v(Tn, K);
  mm_abt<T>(a1.view(), W[kLinQ].view(), q.view());
  mm_abt<T>(a1.view(), W[kLinK].view(), k.view());
  mm_abt<T>(a1.view(), W[kLinV].view(), v.view());
  rope_apply(q, nh, hd, cs, sn, inter, false);
  rope_apply(k, nkv, hd, cs, sn, inter, false);
  if (!p.k_center.empty())  // a constant: the gradient passes unchanged
    for (int64_t t = 0; t < Tn; ++t)
      for (int64_t j = 0; j < K; ++j) k(t, j) -= p.k_center[static_cast<size_t>(j)];
  rotate_head_rows(q, hd, p.head_rot, false);
  rotate_head_rows(k, hd, p.head_rot, false);
  // BlockPoint::Qk: Q and K after RoPE (and the head rotation), quantized per head with V.
  Matrix<T> qpre = q, kpre = k, vpre = v;
  act_fake_quant_rows(q.data(), Tn * nh, hd, qs.abits, qs.qk_clip);
  act_fake_quant_rows(k.data(), Tn * nkv, hd, qs.kv_bits, qs.qk_clip);
  act_fake_quant_rows(v.data(), Tn * nkv, hd, qs.kv_bits, 1.f);
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  std::vector<Matrix<T>> P(static_cast<size_t>(nh));
  Matrix<T> att(Tn, Q);
  for (int64_t h = 0; h < nh; ++h) {
    const int64_t kvh = h / group;
    Matrix<T>& s = P[static_cast<size_t>(h)];
    s = Matrix<T>(Tn, Tn);
    mm_abt<T>(q.view().cols_slice(h * hd, hd), k.view().cols_slice(kvh * hd, hd), s.view());
    for (int64_t t = 0; t < Tn; ++t) {
      T mx = s(t, 0);
      for (int64_t j = 1; j <= t; ++j) mx = std::max(mx, s(t, j));
      T sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        const T e = std::exp((s(t, j) - mx) * scale);
        s(t, j) = e;
        sum += e;
      }
      for (int64_t j = 0; j <= t; ++j) s(t, j) /= sum;
      for (int64_t j = t + 1; j < Tn; ++j) s(t, j) = 0;
    }
    mm_ab<T>(s.view(), v.view().cols_slice(kvh * hd, hd), att.view().cols_slice(h * hd, hd));
  }
  // BlockPoint::AttnOut: the o-proj input, then the residual.
  Matrix<T> b1pre = times(att, p.g[1]), b1 = b1pre;
  act_fake_quant_site(b1.data(), Tn, Q, qs.abits, lac(1), qs.site_wide[1]);
  Matrix<T> x1 = x;
  mm_abt<T>(b1.view(), W[kLinO].view(), x1.view(), /*acc=*/true);
  Matrix<T> xn2(Tn, D);
  rmsnorm_fwd(x1, p.ffn_norm, eps, xn2, r2);
  // BlockPoint::FfnIn: the FFN input into W_gate, W_up; SwiGLU.
  Matrix<T> a2pre = times(xn2, p.g[2]), a2 = a2pre;
  act_fake_quant_site(a2.data(), Tn, D, qs.abits, lac(2), qs.site_wide[2]);
  Matrix<T> gt(Tn, H), ut(Tn, H), hact(Tn, H);
  mm_abt<T>(a2.view(), W[kLinGate].view(), gt.view());
  mm_abt<T>(a2.view(), W[kLinUp].view(), ut.view());
  for (size_t i = 0; i < hact.flat().size(); ++i) {
    const T g = gt.data()[i];
    hact.data()[i] = g / (T(1) + std::exp(-g)) * ut.data()[i];
  }
  // BlockPoint::DownIn: the down-proj input, then the residual; BlockPoint::Output is y.
  Matrix<T> b2pre = times(hact, p.g[3]), b2 = b2pre;
  act_fake_quant_site(b2.data(), Tn, H, qs.abits, lac(3), qs.site_wide[3]);
  Matrix<T> y = x1;
  mm_abt<T>(b2.view(), W[kLinDown].view(), y.view(), /*acc=*/true);

  T loss = 0;
  Matrix<T> dy(Tn, D);
  const T inv_n = T(1) / static_cast<T>(Tn * D);
  for (size_t i = 0; i < y.flat().size(); ++i) {
    const T d = y.data()[i] - target.data()[i];
    loss += d * d;
    dy.data()[i] = T(2) * d * inv_n;
  }
  loss *= inv_n;
  if (y_out) *y_out = std::move(y);
  if (!gw && !gx && !extra) return loss;

  // ---- backward ----
  std::array<Matrix<T>, kNumLinears> local;
  auto& G = gw ? *gw : local;
  for (int i = 0; i < kNumLinears; ++i)
    G[static_cast<size_t>(i)] = Matrix<T>(W[static_cast<size_t>(i)].rows(), W[static_cast<size_t>(i)].cols());
  mm_atb<T>(dy.view(), b2.view(), G[kLinDown].view());
  Matrix<T> db2(Tn, H), db2pre(Tn, H);
  mm_ab<T>(dy.view(), W[kLinDown].view(), db2.view());
  act_fake_quant_site_grad(b2pre.data(), db2.data(), db2pre.data(), Tn, H, qs.abits, lac(3), qs.act_scale_grad,
                           qs.site_wide[3]);
  Matrix<T> dh = times_t(db2pre, p.g[3]);
  auto g_grad = [&](int site, const Matrix<T>& in, const Matrix<T>& dout) {  // ∂L/∂G_s = inᵀ·∂L/∂(in·G_s)
    if (!extra || p.g[static_cast<size_t>(site)].empty()) return;
    Matrix<T>& gg = extra->g[static_cast<size_t>(site)];
    gg = Matrix<T>(in.cols(), dout.cols());
    mm_atb<T>(in.view(), dout.view(), gg.view());
  };
  // ∂L/∂w of RMSNorm(x)·w: Σ_t x_tj·r_t·∂L/∂xn_tj.
  auto norm_grad = [&](const Matrix<T>& in, const std::vector<T>& inv, const Matrix<T>& dxn, std::vector<T>& out) {
    out.assign(static_cast<size_t>(in.cols()), T(0));
    for (int64_t t = 0; t < in.rows(); ++t)
      for (int64_t j = 0; j < in.cols(); ++j)
        out[static_cast<size_t>(j)] += in(t, j) * inv[static_cast<size_t>(t)] * dxn(t, j);
  };
  g_grad(3, hact, db2pre);
  Matrix<T> dgt(Tn, H), dut(Tn, H);
  for (size_t i = 0; i < dh.flat().size(); ++i) {
    const T g = gt.data()[i], sg = T(1) / (T(1) + std::exp(-g));
    dut.data()[i] = dh.data()[i] * g * sg;
    dgt.data()[i] = dh.data()[i] * ut.data()[i] * sg * (T(1) + g * (T(1) - sg));
  }
  mm_atb<T>(dgt.view(), a2.view(), G[kLinGate].view());
  mm_atb<T>(dut.view(), a2.view(), G[kLinUp].view());
  Matrix<T> da2(Tn, D), da2pre(Tn, D);
  mm_ab<T>(dgt.view(), W[kLinGate].view(), da2.view());
  mm_ab<T>(dut.view(), W[kLinUp].view(), da2.view(), true);
  act_fake_quant_site_grad(a2pre.data(), da2.data(), da2pre.data(), Tn, D, qs.abits, lac(2), qs.act_scale_grad,
                           qs.site_wide[2]);
  Matrix<T> dxn2 = times_t(da2pre, p.g[2]);
  g_grad(2, xn2, da2pre);
  if (extra) norm_grad(x1, r2, dxn2, extra->ffn_norm);
  Matrix<T> dx1 = dy;
  rmsnorm_bwd(x1, p.ffn_norm, r2, dxn2, dx1);

  mm_atb<T>(dx1.view(), b1.view(), G[kLinO].view());
  Matrix<T> db1(Tn, Q), db1pre(Tn, Q);
  mm_ab<T>(dx1.view(), W[kLinO].view(), db1.view());
  act_fake_quant_site_grad(b1pre.data(), db1.data(), db1pre.data(), Tn, Q, qs.abits, lac(1), qs.act_scale_grad,
                           qs.site_wide[1]);
  Matrix<T> datt = times_t(db1pre, p.g[1]);
  g_grad(1, att, db1pre);
  Matrix<T> dq(Tn, Q), dk(Tn, K), dv(Tn, K), dP(Tn, Tn);
  for (int64_t h = 0; h < nh; ++h) {
    const int64_t kvh = h / group;
    const Matrix<T>& ph = P[static_cast<size_t>(h)];
    CV<T> datt_h = datt.view().cols_slice(h * hd, hd);
    mm_abt<T>(datt_h, v.view().cols_slice(kvh * hd, hd), dP.view());
    mm_atb<T>(ph.view(), datt_h, dv.view().cols_slice(kvh * hd, hd), true);
    for (int64_t t = 0; t < Tn; ++t) {
      T dot = 0;
      for (int64_t j = 0; j <= t; ++j) dot += dP(t, j) * ph(t, j);
      for (int64_t j = 0; j < Tn; ++j) dP(t, j) = j <= t ? ph(t, j) * (dP(t, j) - dot) * scale : T(0);
    }
    mm_ab<T>(dP.view(), k.view().cols_slice(kvh * hd, hd), dq.view().cols_slice(h * hd, hd));
    mm_atb<T>(dP.view(), q.view().cols_slice(h * hd, hd), dk.view().cols_slice(kvh * hd, hd), true);
  }
  Matrix<T> dqp(Tn, Q), dkp(Tn, K), dvp(Tn, K);
  act_fake_quant_rows_grad(qpre.data(), dq.data(), dqp.data(), Tn * nh, hd, qs.abits, qs.qk_clip, qs.act_scale_grad);
  act_fake_quant_rows_grad(kpre.data(), dk.data(), dkp.data(), Tn * nkv, hd, qs.kv_bits, qs.qk_clip, qs.act_scale_grad);
  act_fake_quant_rows_grad(vpre.data(), dv.data(), dvp.data(), Tn * nkv, hd, qs.kv_bits, 1.f, qs.act_scale_grad);
  rotate_head_rows(dqp, hd, p.head_rot, true);
  rotate_head_rows(dkp, hd, p.head_rot, true);
  rope_apply(dqp, nh, hd, cs, sn, inter, true);
  rope_apply(dkp, nkv, hd, cs, sn, inter, true);
  mm_atb<T>(dqp.view(), a1.view(), G[kLinQ].view());
  mm_atb<T>(dkp.view(), a1.view(), G[kLinK].view());
  mm_atb<T>(dvp.view(), a1.view(), G[kLinV].view());
  if (gx || extra) {
    Matrix<T> da1(Tn, D), da1pre(Tn, D);
    mm_ab<T>(dqp.view(), W[kLinQ].view(), da1.view());
    mm_ab<T>(dkp.view(), W[kLinK].view(), da1.view(), true);
    mm_ab<T>(dvp.view(), W[kLinV].view(), da1.view(), true);
    act_fake_quant_site_grad(a1pre.data(), da1.data(), da1pre.data(), Tn, D, qs.abits, lac(0), qs.act_scale_grad,
                             qs.site_wide[0]);
    Matrix<T> dxn1 = times_t(da1pre, p.g[0]);
    g_grad(0, xn1, da1pre);
    if (extra) norm_grad(x, r1, dxn1, extra->attn_norm);
    if (gx) {
      *gx = dx1;
      rmsnorm_bwd(x, p.attn_norm, r1, dxn1, *gx);
    }
  }
  return loss;
}

template float block_loss_grad<float>(const model::ModelConfig&, const BlockQuantSpec&, const BlockParams<float>&,
                                      const Matrix<float>&, const Matrix<float>&, Matrix<float>*,
                                      std::array<Matrix<float>, kNumLinears>*, Matrix<float>*, BlockExtraGrads<float>*);
template double block_loss_grad<double>(const model::ModelConfig&, const BlockQuantSpec&, const BlockParams<double>&,
                                        const Matrix<double>&, const Matrix<double>&, Matrix<double>*,
                                        std::array<Matrix<double>, kNumLinears>*, Matrix<double>*,
                                        BlockExtraGrads<double>*);
template void act_fake_quant_site<float>(float*, int64_t, int64_t, int, float, const std::vector<int32_t>&);
template void act_fake_quant_site<double>(double*, int64_t, int64_t, int, float, const std::vector<int32_t>&);
template void act_fake_quant_site_grad<float>(const float*, const float*, float*, int64_t, int64_t, int, float, bool,
                                              const std::vector<int32_t>&);
template void act_fake_quant_site_grad<double>(const double*, const double*, double*, int64_t, int64_t, int, float,
                                               bool, const std::vector<int32_t>&);
template void act_fake_quant_rows<float>(float*, int64_t, int64_t, int, float);
template void act_fake_quant_rows<double>(double*, int64_t, int64_t, int, float);
template void act_fake_quant_rows_grad<float>(const float*, const float*, float*, int64_t, int64_t, int, float, bool);
template void act_fake_quant_rows_grad<double>(const double*, const double*, double*, int64_t, int64_t, int, float,
                                               bool);

}  // namespace duq::calib
