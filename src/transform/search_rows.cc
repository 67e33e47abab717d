#include "transform/search_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/threads.h"
#include "kernels/gemm_f32.h"
#include "transform/orthogonal.h"

namespace duq::transform::detail {

void Extremes::merge_row(const float* y, int64_t b, int64_t flat0) {
  // Branch-free row max/min first (vectorisable); positions are only searched for when the row can win.
  float rmax = y[0], rmin = y[0];
  for (int64_t c = 1; c < b; ++c) {
    rmax = y[c] > rmax ? y[c] : rmax;
    rmin = y[c] < rmin ? y[c] : rmin;
  }
  if (rmax > max || (rmax == max && flat0 < max_at)) {
    const int64_t c = std::find(y, y + b, rmax) - y;  // first occurrence in the row
    if (rmax > max || flat0 + c < max_at) max = rmax, max_at = flat0 + c;
  }
  if (rmin < min || (rmin == min && flat0 < min_at)) {
    const int64_t c = std::find(y, y + b, rmin) - y;
    if (rmin < min || flat0 + c < min_at) min = rmin, min_at = flat0 + c;
  }
  const float ramax = std::max(rmax, -rmin);
  if (ramax > amax || (ramax == amax && flat0 < amax_at)) {
    int64_t c = 0;
    while (std::fabs(y[c]) != ramax) ++c;
    if (ramax > amax || flat0 + c < amax_at) amax = ramax, amax_at = flat0 + c;
  }
}

void Extremes::merge(const Extremes& o) {
  if (o.max_at >= 0 && (max_at < 0 || o.max > max || (o.max == max && o.max_at < max_at)))
    max = o.max, max_at = o.max_at;
  if (o.min_at >= 0 && (min_at < 0 || o.min < min || (o.min == min && o.min_at < min_at)))
    min = o.min, min_at = o.min_at;
  if (o.amax_at >= 0 && (amax_at < 0 || o.amax > amax || (o.amax == amax && o.amax_at < amax_at)))
    amax = o.amax, amax_at = o.amax_at;
}

int64_t Extremes::pick(SearchVariant v, int64_t b) const {
  if (v == SearchVariant::kPaper) return amax_at % b;  // the column (channel within the block)
  // The reference takes the ROW of Y holding the extreme, modulo b (see greedy_rotation.h).
  const int64_t at = std::fabs(max) > std::fabs(min) ? max_at : min_at;
  return (at / b) % b;
}

SearchRows::SearchRows(ConstMatView x, int64_t b) : b_(b) {
  const int64_t per_token = x.cols / b;
  n_ = x.rows * per_token;
  auto src = [&](int64_t rho) { return x.row(rho / per_token) + (rho % per_token) * b; };
  std::vector<double> norms(static_cast<size_t>(n_));
  for (int64_t rho = 0; rho < n_; ++rho) {
    const float* r = src(rho);
    double s = 0;
    for (int64_t c = 0; c < b; ++c) s += static_cast<double>(r[c]) * r[c];
    norms[static_cast<size_t>(rho)] = std::sqrt(s);
  }
  orig_.resize(static_cast<size_t>(n_));
  std::iota(orig_.begin(), orig_.end(), 0);
  std::stable_sort(orig_.begin(), orig_.end(),
                   [&](int64_t a, int64_t c) { return norms[static_cast<size_t>(a)] > norms[static_cast<size_t>(c)]; });
  y_.resize(n_, b);
  norm_.resize(static_cast<size_t>(n_));
  for (int64_t i = 0; i < n_; ++i) {
    const int64_t rho = orig_[static_cast<size_t>(i)];
    std::memcpy(y_.row(i), src(rho), static_cast<size_t>(b) * sizeof(float));
    norm_[static_cast<size_t>(i)] = norms[static_cast<size_t>(rho)];
  }
}

void SearchRows::apply(int64_t p, const Mat& s) {
  const int64_t m = panel_rows(p);
  MatView panel(y_.row(p * kPanelRows), m, b_);
  thread_local Mat tmp;
  if (tmp.rows() < kPanelRows || tmp.cols() != b_) tmp.resize(kPanelRows, b_);
  MatView out(tmp.data(), m, b_);
  kernels::matmul(panel, s, out);
  std::memcpy(panel.data, out.data, static_cast<size_t>(m * b_) * sizeof(float));
}

void SearchRows::scan(int64_t p, Extremes& e) const {
  const int64_t r0 = p * kPanelRows, m = panel_rows(p);
  for (int64_t i = r0; i < r0 + m; ++i) e.merge_row(y_.row(i), b_, orig_[static_cast<size_t>(i)] * b_);
}

void SearchRows::apply_scan(int64_t n, const Mat* s, Extremes& e) {
  // A step's work on n panels is n·64·b² multiply-adds; below ~2M a fork costs more than it saves.
  const bool small = n * kPanelRows * b_ * b_ < (int64_t{1} << 21);
  const int64_t chunks = std::min<int64_t>(n, small ? 1 : num_threads());
  std::vector<Extremes> part(static_cast<size_t>(std::max<int64_t>(chunks, 0)));
  parallel_for(chunks, [&](int64_t c) {
    for (int64_t p = n * c / chunks; p < n * (c + 1) / chunks; ++p) {
      if (s) apply(p, *s);
      scan(p, part[static_cast<size_t>(c)]);
    }
  });
  for (const Extremes& x : part) e.merge(x);
}

StepSchedule::StepSchedule(int64_t b, SearchVariant v, uint64_t seed) : b_(b), v_(v), rng_(seed) {}

const MatD& StepSchedule::base_for(int64_t j) {
  const size_t want = v_ == SearchVariant::kReference ? 1 : static_cast<size_t>(j + 1);
  while (bases_d_.size() < want) {
    bases_d_.push_back(randomized_base(b_, rng_));
    Mat f = to_float(bases_d_.back());
    // ‖F‖₂² ≤ ‖FᵀF‖_∞ ≤ 1 + ‖FᵀF − I‖_∞ (max absolute row sum), evaluated in double (+ slack for it).
    double worst = 0;
    for (int64_t i = 0; i < b_; ++i) {
      double row = 0;
      for (int64_t j2 = 0; j2 < b_; ++j2) {
        double g = 0;
        for (int64_t r = 0; r < b_; ++r) g += static_cast<double>(f(r, i)) * f(r, j2);
        row += std::fabs(g - (i == j2 ? 1.0 : 0.0));
      }
      worst = std::max(worst, row);
    }
    const double norm2 = std::sqrt(1.0 + worst) * (1 + 1e-12);
    // Float product y·S: |fl(yS) − yS| ≤ γ_b·|y|·|S| elementwise, so ‖fl(yS)‖ ≤ ‖y‖·‖S‖₂·(1 + γ_b·√b).
    const double u = std::ldexp(1.0, -24), bu = static_cast<double>(b_) * u;
    base_growth_.push_back(norm2 * (1 + bu / (1 - bu) * std::sqrt(static_cast<double>(b_))));
    bases_f_.push_back(std::move(f));
  }
  return bases_d_[want - 1];
}

const Mat& StepSchedule::define(int64_t j, int64_t k) {
  DUQ_CHECK(j == static_cast<int64_t>(swaps_.size()), "steps are defined in order");
  base_for(j);
  const size_t bi = v_ == SearchVariant::kReference ? 0 : static_cast<size_t>(j);
  base_of_step_.push_back(static_cast<int64_t>(bi));
  k_.push_back(k);
  Mat s = bases_f_[bi];
  if (k != 0) {
    for (int64_t c = 0; c < b_; ++c) std::swap(s(0, c), s(k, c));
    for (int64_t r = 0; r < b_; ++r) std::swap(s(r, 0), s(r, k));
  }
  swaps_.push_back(std::move(s));
  growth_.push_back(base_growth_[bi]);
  return swaps_.back();
}

MatD StepSchedule::product(int64_t n) const {
  MatD r = MatD::identity(b_);
  for (int64_t j = 0; j < n; ++j) {
    MatD s = bases_d_[static_cast<size_t>(base_of_step_[static_cast<size_t>(j)])];
    swap_rows_cols(s, 0, k_[static_cast<size_t>(j)]);
    r = matmul(r, s);
  }
  return r;
}

void check_search_args(ConstMatView x, int64_t block, const GreedyOptions& opts) {
  if (block < 1) fail("rotation block size must be positive (got ", block, ")");
  if (block > x.cols) fail("rotation block size ", block, " is larger than the dimension ", x.cols);
  if (x.cols % block != 0) fail("greedy search width ", x.cols, " is not a multiple of the block size ", block);
  if (x.rows < 1) fail("greedy search needs at least one row of activations");
  if (opts.steps < 0) fail("greedy search steps must be non-negative (got ", opts.steps, ")");
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j)
      if (!std::isfinite(x(i, j))) fail("greedy search input has a non-finite value at (", i, ", ", j, ")");
}

void finish(GreedyResult& r, const StepSchedule& sched, int64_t b) {
  const auto it = std::min_element(r.scores.begin(), r.scores.end());  // first minimum
  r.steps_taken = static_cast<int>(it - r.scores.begin());
  r.rotation_d = sched.product(r.steps_taken);
  r.rotation = to_float(r.rotation_d);
  DUQ_CHECK(r.rotation.rows() == b);
}

}  // namespace duq::transform::detail
