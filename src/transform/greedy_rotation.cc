// The straightforward greedy search and the dispatch; see greedy_rotation.h.
#include "transform/greedy_rotation.h"

#include "transform/search_rows.h"

namespace duq::transform {

using detail::Extremes;

GreedyResult greedy_rotation(ConstMatView x, int64_t block, const GreedyOptions& opts) {
  return opts.fast ? greedy_rotation_fast(x, block, opts) : greedy_rotation_reference(x, block, opts);
}

GreedyResult greedy_rotation_reference(ConstMatView x, int64_t block, const GreedyOptions& opts) {
  detail::check_search_args(x, block, opts);
  detail::SearchRows rows(x, block);
  detail::StepSchedule sched(block, opts.variant, opts.seed);
  GreedyResult r;
  Extremes e;
  rows.apply_scan(rows.panels(), nullptr, e);
  r.scores.push_back(e.score(opts.variant));
  for (int64_t j = 0; j < opts.steps; ++j) {
    const int64_t k = e.pick(opts.variant, block);
    r.exchanges.push_back(k);
    const Mat& s = sched.define(j, k);
    e = Extremes{};
    rows.apply_scan(rows.panels(), &s, e);
    r.row_updates += rows.rows();
    r.scores.push_back(e.score(opts.variant));
  }
  detail::finish(r, sched, block);
  return r;
}

}  // namespace duq::transform
