// The fast exact greedy search: same steps, same arithmetic per row, fewer rows (see greedy_rotation.h).
//
// Why it is exact: rows of Y are stored by descending norm, so the panels that may hold an extreme form a
// prefix. A row y after j steps satisfies |y_c| ≤ ‖y‖ ≤ ‖y₀‖·Π growth(i) (the float-rounding bound of
// StepSchedule). If that bound is below the current threshold (min(max, −min) of the active rows for the
// signed range, max|Y| for the paper score), every entry of the row is strictly inside (min, max), so it
// can neither be the extreme nor tie with it: scores and exchange indices equal the reference's. A panel
// joins the prefix when its bound reaches the threshold and is first replayed through the steps it
// missed, with the very same BLAS calls on the very same data, so its values equal the reference's bits.
#include "transform/greedy_rotation.h"
#include "transform/search_rows.h"

namespace duq::transform {

using detail::Extremes;

GreedyResult greedy_rotation_fast(ConstMatView x, int64_t block, const GreedyOptions& opts) {
  detail::check_search_args(x, block, opts);
  detail::SearchRows rows(x, block);
  detail::StepSchedule sched(block, opts.variant, opts.seed);
  GreedyResult r;
  std::vector<double> cum_growth{1.0};  // cum_growth[j] = Π_{i<j} growth(i)
  int64_t active = 0;

  // Adds panels while the next one may hold an entry at or beyond the threshold (after j steps).
  auto activate = [&](int64_t j, Extremes& e) {
    while (active < rows.panels()) {
      const double bound = rows.panel_norm(active) * cum_growth[static_cast<size_t>(j)] * (1 + 1e-12);
      if (bound < static_cast<double>(e.threshold(opts.variant))) break;
      for (int64_t s = 0; s < j; ++s) rows.apply(active, sched.swap_matrix(s));
      r.row_updates += rows.panel_rows(active) * j;
      rows.scan(active, e);
      ++active;
    }
  };

  Extremes e;
  activate(0, e);
  r.scores.push_back(e.score(opts.variant));
  for (int64_t j = 0; j < opts.steps; ++j) {
    const int64_t k = e.pick(opts.variant, block);
    r.exchanges.push_back(k);
    const Mat& s = sched.define(j, k);
    cum_growth.push_back(cum_growth.back() * sched.growth(j));
    e = Extremes{};
    rows.apply_scan(active, &s, e);
    for (int64_t p = 0; p < active; ++p) r.row_updates += rows.panel_rows(p);
    activate(j + 1, e);
    r.scores.push_back(e.score(opts.variant));
  }
  detail::finish(r, sched, block);
  return r;
}

}  // namespace duq::transform
