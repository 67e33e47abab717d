#include "transform/smoothing.h"

#include <algorithm>
#include <cmath>

namespace duq::transform {

std::vector<float> column_abs_max(ConstMatView x) {
  std::vector<float> m(static_cast<size_t>(x.cols), 0.f);
  for (int64_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j)
      m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs(r[j]));
  }
  return m;
}

std::vector<float> smoothing_factors(std::span<const float> act_max, std::span<const float> weight_max, float alpha,
                                     float floor) {
  if (act_max.size() != weight_max.size())
    fail("smoothing: ", act_max.size(), " activation maxima but ", weight_max.size(), " weight maxima");
  if (!(alpha >= 0.f && alpha <= 1.f)) fail("smoothing alpha must be in [0, 1] (got ", alpha, ")");
  if (!(floor > 0.f)) fail("smoothing floor must be positive (got ", floor, ")");
  std::vector<float> s(act_max.size());
  for (size_t j = 0; j < s.size(); ++j) {
    const float a = std::pow(std::max(act_max[j], 1e-5f), alpha);
    const float w = std::pow(std::max(weight_max[j], 1e-5f), 1.f - alpha);
    s[j] = std::max(a / w, floor);
  }
  return s;
}

}  // namespace duq::transform
