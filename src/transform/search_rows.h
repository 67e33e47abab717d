// Internal to the greedy search (greedy_rotation*.cc): the row store of Y, the step schedule (B and the
// Swap matrices) and the extreme tracking shared by the reference and the fast search. Both searches
// must do literally the same float arithmetic on each row, so it lives here once.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "transform/dmat.h"
#include "transform/greedy_rotation.h"

namespace duq::transform::detail {

inline constexpr int64_t kPanelRows = 64;

// Largest / smallest / largest-magnitude entries of Y with their first position (flat index ρ·b + c in
// the original row order of Y), the tie rule of torch.argmax.
struct Extremes {
  float max = -std::numeric_limits<float>::infinity();
  float min = std::numeric_limits<float>::infinity();
  float amax = -1.f;
  int64_t max_at = -1, min_at = -1, amax_at = -1;
  void merge_row(const float* y, int64_t b, int64_t flat0);
  // Merges another scan's extremes: the same (value, first position) rule, so merging the scans of any split
  // of the rows gives what one scan over all of them gives, in any order.
  void merge(const Extremes& o);
  float score(SearchVariant v) const { return v == SearchVariant::kReference ? max - min : amax; }
  // Rows whose entries are all below this in magnitude cannot hold an extreme that matters.
  float threshold(SearchVariant v) const { return v == SearchVariant::kReference ? std::min(max, -min) : amax; }
  // The exchange index k of the next step.
  int64_t pick(SearchVariant v, int64_t b) const;
};

// Y [n×b] with rows sorted by descending L2 norm (stable), in panels of kPanelRows rows.
class SearchRows {
 public:
  SearchRows(ConstMatView x, int64_t b);
  int64_t block() const { return b_; }
  int64_t rows() const { return n_; }
  int64_t panels() const { return (n_ + kPanelRows - 1) / kPanelRows; }
  int64_t panel_rows(int64_t p) const { return std::min(kPanelRows, n_ - p * kPanelRows); }
  // Largest row norm in panel p (its first row), computed in double from the input.
  double panel_norm(int64_t p) const { return norm_[static_cast<size_t>(p * kPanelRows)]; }
  // panel ← panel·s [b×b] via BLAS (always the same call shape for a given panel). Panels may be updated
  // from different threads at once (the temporary is thread-local).
  void apply(int64_t p, const Mat& s);
  // For the panels [0, n): apply(p, s) (when s is given) and scan into e, split over the threads (panels are
  // independent; the per-range extremes are merged, which gives the serial scan's result exactly).
  void apply_scan(int64_t n, const Mat* s, Extremes& e);
  // Merges the panel's entries into e.
  void scan(int64_t p, Extremes& e) const;

 private:
  int64_t b_ = 0, n_ = 0;
  Mat y_;                      // [n×b] sorted rows
  std::vector<int64_t> orig_;  // original row index ρ of each stored row
  std::vector<double> norm_;   // ‖y‖ of each stored row, descending
};

// The B matrices and Swap(B, 0, k_j) of each step, drawn from the rng in step order.
class StepSchedule {
 public:
  StepSchedule(int64_t b, SearchVariant v, uint64_t seed);
  // Defines step j (j = number of steps defined so far) with exchange index k; returns Swap(B_j, 0, k).
  const Mat& define(int64_t j, int64_t k);
  const Mat& swap_matrix(int64_t j) const { return swaps_[static_cast<size_t>(j)]; }
  // Upper bound on ‖y·S_j‖ / ‖y‖ for the float product (‖S_j‖₂ times the BLAS rounding factor).
  double growth(int64_t j) const { return growth_[static_cast<size_t>(j)]; }
  // R̂ = Swap(B_0,0,k_0)·…·Swap(B_{n−1},0,k_{n−1}) in double.
  MatD product(int64_t n) const;

 private:
  const MatD& base_for(int64_t j);
  int64_t b_;
  SearchVariant v_;
  Rng rng_;
  std::vector<MatD> bases_d_;
  std::vector<Mat> bases_f_;
  std::vector<double> base_growth_;
  std::vector<int64_t> base_of_step_, k_;
  std::vector<Mat> swaps_;
  std::vector<double> growth_;
};

void check_search_args(ConstMatView x, int64_t block, const GreedyOptions& opts);
// Fills rotation, rotation_d, steps_taken from the scores (first argmin).
void finish(GreedyResult& r, const StepSchedule& sched, int64_t b);

}  // namespace duq::transform::detail
