// The transforms that are searched or drawn per linear input [T×D] (calib/method.h's Transform), each with
// its own random stream: seed = derive_seed(--seed, layer·4 + site), so a site's draw does not depend on
// what the method did elsewhere.
#pragma once
#include <cstdint>

#include "calib/options.h"
#include "calib/site_transform.h"
#include "core/tensor.h"
#include "model/forward.h"

namespace duq::calib {

// The random stream of a site: layer·kNumSites + site.
uint64_t site_stream(int layer, model::Site site);

// DuQuant: the greedy rotations + zigzag permutations of this input, searched on x [T×D] (after any
// smoothing); --block clamped to D unless given explicitly (then it must fit).
transform::DuQuantTransform search_duquant(const QuantOptions& opts, int layer, model::Site site, ConstMatView x);

// QuaRot: the site's randomized Hadamard over D channels (and its seed) put into st.
void draw_hadamard(const QuantOptions& opts, int layer, model::Site site, int64_t D, SiteTransform& st);

}  // namespace duq::calib
