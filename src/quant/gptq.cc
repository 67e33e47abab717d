#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/threads.h"
#include "quant/gptq_linalg.h"

namespace duq::quant {

Hessian::Hessian(int64_t dim) : dim_(dim), h_(static_cast<size_t>(dim * dim), 0.0) { DUQ_CHECK(dim >= 0); }

void Hessian::add_gram(ConstMatView g, int64_t n) {
  DUQ_CHECK(g.rows == dim_ && g.cols == dim_, "Hessian::add_gram: shape");
  if (n <= 0) return;
  const double keep = static_cast<double>(rows_) / static_cast<double>(rows_ + n);
  const double add = 2.0 / static_cast<double>(rows_ + n);
  for (int64_t i = 0; i < dim_; ++i)
    for (int64_t j = 0; j < dim_; ++j) {
      double& v = h_[static_cast<size_t>(i * dim_ + j)];
      v = v * keep + add * g(i, j);
    }
  rows_ += n;
}

void Hessian::merge(const Hessian& o) {
  DUQ_CHECK(o.dim_ == dim_, "Hessian::merge: width ", o.dim_, " != ", dim_);
  if (o.rows_ == 0) return;
  const double a = double(rows_) / double(rows_ + o.rows_), b = double(o.rows_) / double(rows_ + o.rows_);
  for (size_t i = 0; i < h_.size(); ++i) h_[i] = a * h_[i] + b * o.h_[i];
  rows_ += o.rows_;
}

void Hessian::drop_channels(const std::vector<int32_t>& channels) {
  for (int32_t c : channels) {
    DUQ_CHECK(c >= 0 && c < dim_, "Hessian::drop_channels: channel ", c, " of ", dim_);
    for (int64_t i = 0; i < dim_; ++i)
      h_[static_cast<size_t>(i * dim_ + c)] = h_[static_cast<size_t>(c * dim_ + i)] = 0;
  }
}

void Hessian::add(ConstMatView x) {
  DUQ_CHECK(x.cols == dim_, "Hessian::add: ", x.cols, " columns, expected ", dim_);
  // Chunks of rows: the float Gram of each chunk is exact enough; chunks are summed in double.
  constexpr int64_t kChunk = 256;
  Mat xt(dim_, std::min<int64_t>(kChunk, std::max<int64_t>(x.rows, 1)));
  Mat g(dim_, dim_);
  for (int64_t r0 = 0; r0 < x.rows; r0 += kChunk) {
    const int64_t n = std::min(kChunk, x.rows - r0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < dim_; ++j) xt(j, t) = x(r0 + t, j);
    std::fill(g.flat().begin(), g.flat().end(), 0.f);
    // g −= (−xᵀ)·x
    for (int64_t j = 0; j < dim_; ++j)
      for (int64_t t = 0; t < n; ++t) xt(j, t) = -xt(j, t);
    Mat xc(n, dim_);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < dim_; ++j) xc(t, j) = x(r0 + t, j);
    gemm_sub(dim_, dim_, n, xt.data(), xt.cols(), xc.data(), dim_, g.data(), dim_);
    add_gram(g, n);
  }
}

double Hessian::output_error(ConstMatView w, ConstMatView w_hat) const {
  DUQ_CHECK(w.cols == dim_ && w_hat.cols == dim_ && w.rows == w_hat.rows, "Hessian::output_error: shape");
  // One sum per row (rows split over the threads), then the rows added in order: the same bits for any
  // thread count.
  std::vector<double> per_row(static_cast<size_t>(w.rows), 0.0);
  parallel_ranges(w.rows, [&](int64_t r0, int64_t r1) {
    std::vector<double> d(static_cast<size_t>(dim_));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t j = 0; j < dim_; ++j) d[static_cast<size_t>(j)] = double(w(r, j)) - double(w_hat(r, j));
      double row = 0;
      for (int64_t i = 0; i < dim_; ++i) {
        if (d[static_cast<size_t>(i)] == 0) continue;
        const double* hi = h_.data() + i * dim_;
        double s = 0;
        for (int64_t j = 0; j < dim_; ++j) s += hi[j] * d[static_cast<size_t>(j)];
        row += d[static_cast<size_t>(i)] * s;
      }
      per_row[static_cast<size_t>(r)] = row;
    }
  });
  double total = 0;
  for (double v : per_row) total += v;
  return 0.5 * total;
}

QuantizedMat gptq_quantize(ConstMatView w, const Hessian& hs, const QuantSpec& spec, const GptqOptions& opts) {
  validate(spec, w.rows, w.cols);
  const int64_t O = w.rows, D = w.cols;
  if (hs.dim() != D)
    fail("GPTQ: the Hessian is ", hs.dim(), "×", hs.dim(), " but the weight has ", D, " input channels");
  if (hs.rows() == 0) fail("GPTQ: the Hessian has no calibration rows");
  if (opts.block < 1) fail("GPTQ: block must be >= 1 (got ", opts.block, ")");
  if (!(opts.damp >= 0)) fail("GPTQ: damping must be >= 0 (got ", opts.damp, ")");

  QuantizedMat q;
  q.rows = O;
  q.cols = D;
  q.spec = spec;
  q.group = effective_group(spec, O, D);
  q.groups_per_line = groups_per_line(spec, O, D);
  q.codes.assign(static_cast<size_t>(O * D), 0);
  const bool by_row = spec.axis == Axis::kRow;
  q.params.assign(static_cast<size_t>((by_row ? O : D) * q.groups_per_line), GroupParams{});
  const int64_t g = q.group;
  if (O == 0 || D == 0) return q;

  // Whole-row grids come from the original rows (the reference finds them before anything else).
  if (!opts.row_clip.empty() && (!by_row || g < D || static_cast<int64_t>(opts.row_clip.size()) != O))
    fail("GPTQ: per-row clip ratios need whole-row grids and one ratio per row (", opts.row_clip.size(), " for ", O,
         " rows)");
  if (by_row && g >= D)
    for (int64_t r = 0; r < O; ++r) {
      const auto [mn, mx] = std::minmax_element(w.row(r), w.row(r) + D);
      QuantSpec rs = spec;
      if (!opts.row_clip.empty()) rs.clip = opts.row_clip[static_cast<size_t>(r)];
      q.params[static_cast<size_t>(r)] = group_params(*mn, *mx, rs);
    }

  std::vector<double> h = hs.data();
  std::vector<char> dead(static_cast<size_t>(D), 0);
  for (int64_t j = 0; j < D; ++j)
    if (h[static_cast<size_t>(j * D + j)] == 0) {
      h[static_cast<size_t>(j * D + j)] = 1;
      dead[static_cast<size_t>(j)] = 1;
    }
  double mean_diag = 0;
  for (int64_t j = 0; j < D; ++j) mean_diag += h[static_cast<size_t>(j * D + j)];
  mean_diag /= static_cast<double>(D);
  for (int64_t j = 0; j < D; ++j) h[static_cast<size_t>(j * D + j)] += opts.damp * mean_diag;

  std::vector<int64_t> perm(static_cast<size_t>(D));
  std::iota(perm.begin(), perm.end(), 0);
  if (opts.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return h[static_cast<size_t>(a * D + a)] > h[static_cast<size_t>(b * D + b)];
    });
  std::vector<double> hp(static_cast<size_t>(D * D));
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b)
      hp[static_cast<size_t>(a * D + b)] =
          h[static_cast<size_t>(perm[static_cast<size_t>(a)] * D + perm[static_cast<size_t>(b)])];
  std::vector<double> u;
  if (!inverse_upper_cholesky(hp, D, u))
    fail("GPTQ: the damped Hessian is not positive definite (raise the damping, now ", opts.damp, ")");
  hp.clear();
  hp.shrink_to_fit();

  // Working copy, transposed and permuted: wt[a] = column perm[a] of W (contiguous over the O rows).
  Mat wt(D, O);
  for (int64_t r = 0; r < O; ++r)
    for (int64_t a = 0; a < D; ++a) {
      const int64_t j = perm[static_cast<size_t>(a)];
      wt(a, r) = dead[static_cast<size_t>(j)] ? 0.f : w(r, j);
    }
  // Static groups (act_order with row groups): grids from the original W, dead columns zeroed.
  if (by_row && g < D && opts.act_order)
    for (int64_t r = 0; r < O; ++r)
      for (int64_t c0 = 0, gi = 0; c0 < D; c0 += g, ++gi) {
        float mn = 0, mx = 0;
        for (int64_t j = c0; j < std::min(D, c0 + g); ++j) {
          const float v = dead[static_cast<size_t>(j)] ? 0.f : w(r, j);
          mn = j == c0 ? v : std::min(mn, v);
          mx = j == c0 ? v : std::max(mx, v);
        }
        q.params[static_cast<size_t>(r * q.groups_per_line + gi)] = group_params(mn, mx, spec);
      }

  const int64_t B = opts.block;
  Mat ub, ubt, err;
  std::vector<float> lo(static_cast<size_t>(O)), hi(static_cast<size_t>(O));
  for (int64_t i1 = 0; i1 < D; i1 += B) {
    const int64_t i2 = std::min(D, i1 + B), kb = i2 - i1;
    ub.resize(kb, kb);
    for (int64_t a = 0; a < kb; ++a)
      for (int64_t b = 0; b < kb; ++b) ub(a, b) = static_cast<float>(u[static_cast<size_t>((i1 + a) * D + i1 + b)]);
    err.resize(kb, O);
    // The column sweep of this block: every step works on each weight row r on its own (row grids), so the
    // rows split over the threads, each range sweeping all the block's columns with the same arithmetic per
    // element as one sweep over all rows. Column grids (!by_row) span rows: one range.
    auto sweep = [&](int64_t r0, int64_t r1) {
      for (int64_t i = i1; i < i2; ++i) {
        const int64_t p = perm[static_cast<size_t>(i)];
        float* wi = wt.row(i);
        if (by_row && g < D && !opts.act_order && p % g == 0) {
          // Dynamic group grid from the group's columns as updated so far (p == i without act_order).
          const int64_t c1 = std::min(D, p + g);
          std::copy(wi + r0, wi + r1, lo.begin() + r0);
          std::copy(wi + r0, wi + r1, hi.begin() + r0);
          for (int64_t c = p + 1; c < c1; ++c) {
            const float* wc = wt.row(c);
            for (int64_t r = r0; r < r1; ++r) {
              lo[static_cast<size_t>(r)] = std::min(lo[static_cast<size_t>(r)], wc[r]);
              hi[static_cast<size_t>(r)] = std::max(hi[static_cast<size_t>(r)], wc[r]);
            }
          }
          for (int64_t r = r0; r < r1; ++r)
            q.params[static_cast<size_t>(r * q.groups_per_line + p / g)] =
                group_params(lo[static_cast<size_t>(r)], hi[static_cast<size_t>(r)], spec);
        }
        if (!by_row)
          for (int64_t rg = 0, gi = 0; rg < O; rg += g, ++gi) {
            const auto [mn, mx] = std::minmax_element(wi + rg, wi + std::min(O, rg + g));
            q.params[static_cast<size_t>(gi * D + p)] = group_params(*mn, *mx, spec);
          }
        const float d = ub(i - i1, i - i1);
        float* e = err.row(i - i1);
        for (int64_t r = r0; r < r1; ++r) {
          const GroupParams gp = q.params[static_cast<size_t>(q.param_index(r, p))];
          const int32_t c = quantize_value(wi[r], gp, spec);
          q.codes[static_cast<size_t>(r * D + p)] = static_cast<uint8_t>(c);
          e[r] = (wi[r] - dequantize_value(c, gp)) / d;
        }
        for (int64_t j = i + 1; j < i2; ++j) {
          const float uij = ub(i - i1, j - i1);
          float* wj = wt.row(j);
          for (int64_t r = r0; r < r1; ++r) wj[r] -= uij * e[r];
        }
      }
    };
    if (by_row && O * kb * kb >= (1 << 18)) parallel_ranges(O, sweep);
    else sweep(0, O);
    if (i2 < D) {
      // Lazy update of the later columns: wt[i2:] −= U[i1:i2, i2:]ᵀ · err.
      const int64_t m = D - i2;
      ubt.resize(m, kb);
      for (int64_t a = 0; a < kb; ++a)
        for (int64_t j = 0; j < m; ++j) ubt(j, a) = static_cast<float>(u[static_cast<size_t>((i1 + a) * D + i2 + j)]);
      gemm_sub(m, O, kb, ubt.data(), kb, err.data(), O, wt.row(i2), O);
    }
  }
  return q;
}

}  // namespace duq::quant
