#include "calib/learned_rotation.h"
#include "calib/norm_tweak.h"

#include <cmath>
#include <type_traits>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/gemm_f32.h"

namespace duq::calib {

using transform::MatD;

namespace {

// Solves (I + B)·X = C for X by Gauss–Jordan with partial pivoting (I + skew is never singular).
MatD solve_identity_plus(const MatD& b, MatD c) {
  const int64_t n = b.rows();
  MatD a = b;
  for (int64_t i = 0; i < n; ++i) a(i, i) += 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t piv = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::fabs(a(r, col)) > std::fabs(a(piv, col))) piv = r;
    if (piv != col)
      for (int64_t j = 0; j < n; ++j) {
        std::swap(a(col, j), a(piv, j));
        std::swap(c(col, j), c(piv, j));
      }
    const double inv = 1.0 / a(col, col);
    for (int64_t j = 0; j < n; ++j) {
      a(col, j) *= inv;
      c(col, j) *= inv;
    }
    for (int64_t r = 0; r < n; ++r) {
      if (r == col || a(r, col) == 0.0) continue;
      const double f = a(r, col);
      for (int64_t j = 0; j < n; ++j) {
        a(r, j) -= f * a(col, j);
        c(r, j) -= f * c(col, j);
      }
    }
  }
  return c;
}

MatD transpose(const MatD& m) {
  MatD t(m.cols(), m.rows());
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j) t(j, i) = m(i, j);
  return t;
}

// The b×b diagonal block at offset o of a dense gradient, added into g.
void add_block(const Mat& dense, int64_t o, MatD& g) {
  for (int64_t i = 0; i < g.rows(); ++i)
    for (int64_t j = 0; j < g.cols(); ++j) g(i, j) += dense(o + i, o + j);
}

template <class T>
void mm_atb(const Matrix<T>& a, const Matrix<T>& b, Matrix<T>& c) {  // c += aᵀ·b
  if constexpr (std::is_same_v<T, float>) {
    kernels::matmul_at_b(a.view(), b.view(), c.view(), /*accumulate=*/true);
  } else {
    for (int64_t k = 0; k < a.rows(); ++k)
      for (int64_t i = 0; i < a.cols(); ++i)
        for (int64_t j = 0; j < b.cols(); ++j) c(i, j) += a(k, i) * b(k, j);
  }
}

Mat times(const Mat& a, const Mat& b) {
  Mat c(a.rows(), b.cols());
  kernels::matmul(a.view(), b.view(), c.view());
  return c;
}

constexpr int kSiteOfLinear[kNumLinears] = {0, 0, 0, 1, 2, 2, 3};

}  // namespace

MatD cayley_update(const MatD& r, const MatD& g, double angle) {
  const int64_t n = r.rows();
  const MatD a1 = transform::matmul(g, transpose(r)), a2 = transform::matmul(r, transpose(g));
  MatD a(n, n);
  double norm = 0;
  for (size_t k = 0; k < a.flat().size(); ++k) {
    a.data()[k] = a1.data()[k] - a2.data()[k];
    norm += a.data()[k] * a.data()[k];
  }
  norm = std::sqrt(norm);
  if (!(norm > 0) || !std::isfinite(norm)) return r;
  const double h = 0.5 * angle / norm;
  for (double& v : a.flat()) v *= h;  // B = η/2·A
  MatD rhs = r;                       // (I − B)·R
  const MatD br = transform::matmul(a, r);
  for (size_t k = 0; k < rhs.flat().size(); ++k) rhs.data()[k] -= br.data()[k];
  return solve_identity_plus(a, std::move(rhs));
}

LearnedRotation LearnedRotation::identity_like(const transform::BlockRotation& r) {
  LearnedRotation l;
  l.dim = r.dim;
  l.block = r.block;
  const int64_t nb = r.per_block.empty() ? std::min<int64_t>(1, r.full_blocks()) : r.full_blocks();
  for (int64_t k = 0; k < nb; ++k) l.blocks.push_back(MatD::identity(r.block));
  if (r.tail_width() > 0) l.tail = MatD::identity(r.tail_width());
  return l;
}

Mat LearnedRotation::dense() const {
  Mat d(dim, dim);
  const int64_t nfull = block == 0 ? 0 : dim / block;
  for (int64_t k = 0; k < nfull; ++k) {
    const MatD& b = blocks[blocks.size() == 1 ? 0 : static_cast<size_t>(k)];
    for (int64_t i = 0; i < block; ++i)
      for (int64_t j = 0; j < block; ++j) d(k * block + i, k * block + j) = static_cast<float>(b(i, j));
  }
  const int64_t o = nfull * block;
  for (int64_t i = 0; i < tail.rows(); ++i)
    for (int64_t j = 0; j < tail.cols(); ++j) d(o + i, o + j) = static_cast<float>(tail(i, j));
  return d;
}

void LearnedRotation::cayley_step(const Mat& grad, double angle) {
  const int64_t nfull = block == 0 ? 0 : dim / block;
  if (blocks.size() == 1) {
    MatD g(block, block);
    for (int64_t k = 0; k < nfull; ++k) add_block(grad, k * block, g);
    blocks[0] = cayley_update(blocks[0], g, angle);
  } else {
    for (int64_t k = 0; k < nfull; ++k) {
      MatD g(block, block);
      add_block(grad, k * block, g);
      blocks[static_cast<size_t>(k)] = cayley_update(blocks[static_cast<size_t>(k)], g, angle);
    }
  }
  if (tail.rows() > 0) {
    MatD g(tail.rows(), tail.rows());
    add_block(grad, nfull * block, g);
    tail = cayley_update(tail, g, angle);
  }
}

void LearnedRotation::fold_into(transform::BlockRotation& r) const {
  DUQ_CHECK(r.dim == dim && r.block == block, "learned rotation: layout differs from the rotation it folds into");
  if (blocks.size() == 1 && r.per_block.empty()) {
    if (r.full.size() > 0) r.full = transform::to_float(transform::matmul(transform::to_double(r.full), blocks[0]));
  } else {
    if (r.per_block.empty())
      for (int64_t k = 0; k < r.full_blocks(); ++k) r.per_block.push_back(r.full);
    r.full = Mat();
    for (size_t k = 0; k < r.per_block.size(); ++k)
      r.per_block[k] = transform::to_float(
          transform::matmul(transform::to_double(r.per_block[k]), blocks[blocks.size() == 1 ? 0 : k]));
  }
  if (tail.rows() > 0) r.tail = transform::to_float(transform::matmul(transform::to_double(r.tail), tail));
}

template <class T>
Matrix<T> site_rotation_grad(const Matrix<T>& g_fixed, const Matrix<T>& g_act, const std::vector<const Matrix<T>*>& w_f,
                             const std::vector<const Matrix<T>*>& gw) {
  DUQ_CHECK(w_f.size() == gw.size());
  Matrix<T> g(g_fixed.cols(), g_fixed.cols());
  mm_atb(g_fixed, g_act, g);
  for (size_t i = 0; i < w_f.size(); ++i) mm_atb(*w_f[i], *gw[i], g);
  return g;
}
template Matrix<float> site_rotation_grad<float>(const Matrix<float>&, const Matrix<float>&,
                                                 const std::vector<const Matrix<float>*>&,
                                                 const std::vector<const Matrix<float>*>&);
template Matrix<double> site_rotation_grad<double>(const Matrix<double>&, const Matrix<double>&,
                                                   const std::vector<const Matrix<double>*>&,
                                                   const std::vector<const Matrix<double>*>&);

LearnResult learn_train_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& fixed,
                              const std::array<const Mat*, kNumLinears>& w,
                              const std::array<const transform::BlockRotation*, 4>& layouts,
                              const std::vector<Mat>& inputs, const std::vector<Mat>& targets,
                              const LearnOptions& opts) {
  DUQ_CHECK(inputs.size() == targets.size() && !inputs.empty(), "learn_train_block: inputs and targets");
  LearnResult res;
  std::array<Mat, kNumLinears> wf;
  for (int i = 0; i < kNumLinears; ++i) {
    res.rows[static_cast<size_t>(i)] = LwcRow(w[static_cast<size_t>(i)]->rows());
    wf[static_cast<size_t>(i)] = *w[static_cast<size_t>(i)];
  }
  for (int s = 0; s < 4; ++s)
    if (layouts[static_cast<size_t>(s)] && !fixed.g[static_cast<size_t>(s)].empty())
      res.rot[static_cast<size_t>(s)] = LearnedRotation::identity_like(*layouts[static_cast<size_t>(s)]);
  BlockParams<float> p = fixed;
  std::array<Mat, kNumLinears> wp;  // W_f·R (before the weight quantizer)
  // The block at the current parameters: p.g = G·R, p.w = LWC(W_f·R).
  auto set_params = [&] {
    std::array<Mat, 4> rd;
    for (int s = 0; s < 4; ++s)
      if (res.rot[static_cast<size_t>(s)]) {
        rd[static_cast<size_t>(s)] = res.rot[static_cast<size_t>(s)]->dense();
        p.g[static_cast<size_t>(s)] = times(fixed.g[static_cast<size_t>(s)], rd[static_cast<size_t>(s)]);
      }
    for (int i = 0; i < kNumLinears; ++i) {
      const auto& r = rd[static_cast<size_t>(kSiteOfLinear[i])];
      wp[static_cast<size_t>(i)] = r.empty() ? wf[static_cast<size_t>(i)] : times(wf[static_cast<size_t>(i)], r);
      p.w[static_cast<size_t>(i)] = Mat(wp[static_cast<size_t>(i)].rows(), wp[static_cast<size_t>(i)].cols());
      lwc_fake_quant(wp[static_cast<size_t>(i)], res.rows[static_cast<size_t>(i)], opts.wbits,
                     p.w[static_cast<size_t>(i)].view());
    }
  };
  auto mean_loss = [&] { return mean_block_loss(cfg, qs, p, inputs, targets); };
  set_params();
  res.loss_first = res.loss_last = mean_loss();
  auto best_rows = res.rows;
  auto best_rot = res.rot;
  struct Moments {
    std::vector<float> mu, vu, ml, vl;
  };
  std::array<Moments, kNumLinears> mom;
  for (int i = 0; i < kNumLinears; ++i) {
    const size_t o = static_cast<size_t>(w[static_cast<size_t>(i)]->rows());
    mom[static_cast<size_t>(i)] = {std::vector<float>(o), std::vector<float>(o), std::vector<float>(o),
                                   std::vector<float>(o)};
  }
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  const int64_t total = static_cast<int64_t>(opts.epochs) * static_cast<int64_t>(inputs.size());
  std::array<Mat, kNumLinears> gw;
  BlockExtraGrads<float> eg;
  std::vector<float> gu, gl;
  int64_t step = 0;
  for (int epoch = 0; epoch < opts.epochs; ++epoch) {
    for (size_t n = 0; n < inputs.size(); ++n) {
      set_params();
      const float loss = block_loss_grad<float>(cfg, qs, p, inputs[n], targets[n], nullptr, &gw, nullptr, &eg);
      if (!std::isfinite(loss)) continue;
      ++step;
      const float c1 = 1.f - std::pow(b1, static_cast<float>(step)), c2 = 1.f - std::pow(b2, static_cast<float>(step));
      for (int i = 0; i < kNumLinears; ++i) {  // LWC's clips (Adam)
        const Mat& wi = wp[static_cast<size_t>(i)];
        LwcRow& r = res.rows[static_cast<size_t>(i)];
        Moments& m = mom[static_cast<size_t>(i)];
        gu.assign(static_cast<size_t>(wi.rows()), 0.f);
        gl.assign(static_cast<size_t>(wi.rows()), 0.f);
        lwc_grad(wi, r, opts.wbits, gw[static_cast<size_t>(i)], gu, gl);
        auto adam = [&](std::vector<float>& x, std::vector<float>& mm, std::vector<float>& vv,
                        const std::vector<float>& g) {
          for (size_t k = 0; k < x.size(); ++k) {
            mm[k] = b1 * mm[k] + (1 - b1) * g[k];
            vv[k] = b2 * vv[k] + (1 - b2) * g[k] * g[k];
            x[k] -= opts.lr_clip * (mm[k] / c1) / (std::sqrt(vv[k] / c2) + eps);
          }
        };
        adam(r.u, m.mu, m.vu, gu);
        adam(r.l, m.ml, m.vl, gl);
      }
      const double angle = opts.angle * (1.0 - static_cast<double>(step - 1) / static_cast<double>(total));
      for (int s = 0; s < 4; ++s) {  // the rotations (Cayley)
        auto& rot = res.rot[static_cast<size_t>(s)];
        if (!rot) continue;
        std::vector<const Mat*> ws, gs;
        for (int i = 0; i < kNumLinears; ++i)
          if (kSiteOfLinear[i] == s) {
            ws.push_back(&wf[static_cast<size_t>(i)]);
            gs.push_back(&gw[static_cast<size_t>(i)]);
          }
        rot->cayley_step(
            site_rotation_grad<float>(fixed.g[static_cast<size_t>(s)], eg.g[static_cast<size_t>(s)], ws, gs), angle);
      }
    }
    set_params();
    const double l = mean_loss();
    if (std::isfinite(l) && l < res.loss_last) {
      res.loss_last = l;
      best_rows = res.rows;
      best_rot = res.rot;
    }
  }
  res.rows = best_rows;
  res.rot = best_rot;
  res.steps = static_cast<int>(step);
  return res;
}

}  // namespace duq::calib
