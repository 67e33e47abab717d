#include "calib/site_search.h"

#include <algorithm>

#include "core/error.h"
#include "transform/block_rotation.h"

namespace duq::calib {

uint64_t site_stream(int layer, model::Site site) {
  return static_cast<uint64_t>(layer) * model::kNumSites + static_cast<uint64_t>(site);
}

transform::DuQuantTransform search_duquant(const QuantOptions& opts, int layer, model::Site site, ConstMatView x) {
  const int64_t D = x.cols;
  transform::DuQuantOptions o;
  o.block = opts.block_explicit ? opts.block : std::min<int64_t>(opts.block, D);
  if (o.block > D)
    fail("--block ", opts.block, " is larger than the ", D, "-wide input of layer ", layer, " ", model::site_name(site),
         " (choose at most ", D, ")");
  o.steps = opts.steps;
  o.rounds = opts.permute ? opts.rounds : 0;
  o.variant = opts.variant;
  o.seed = transform::derive_seed(opts.seed, site_stream(layer, site));
  return transform::duquant_search(x, o);
}

void draw_hadamard(const QuantOptions& opts, int layer, model::Site site, int64_t D, SiteTransform& st) {
  st.hadamard_seed = transform::derive_seed(opts.seed, site_stream(layer, site));
  st.hadamard = std::make_shared<transform::RandomizedHadamard>(D, st.hadamard_seed);
}

}  // namespace duq::calib
