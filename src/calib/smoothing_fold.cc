#include "calib/smoothing_fold.h"

#include <cmath>

#include "core/error.h"
#include "transform/smoothing.h"

namespace duq::calib {

namespace {
void scale_cols(Mat& w, std::span<const float> s) {
  DUQ_CHECK(w.cols() == static_cast<int64_t>(s.size()));
  for (int64_t i = 0; i < w.rows(); ++i)
    for (int64_t j = 0; j < w.cols(); ++j) w(i, j) *= s[static_cast<size_t>(j)];
}
void divide_rows(Mat& w, std::span<const float> s) {
  DUQ_CHECK(w.rows() == static_cast<int64_t>(s.size()));
  for (int64_t i = 0; i < w.rows(); ++i)
    for (int64_t j = 0; j < w.cols(); ++j) w(i, j) /= s[static_cast<size_t>(i)];
}
void divide_vec(Vec& v, std::span<const float> s) {
  DUQ_CHECK(v.size() == s.size());
  for (size_t j = 0; j < v.size(); ++j) v[j] /= s[j];
}
}  // namespace

bool fold_smoothing(const model::ModelConfig& c, model::Site site, std::span<const float> s, model::LayerWeights& w) {
  using model::Site;
  switch (site) {
    case Site::AttnIn:
      divide_vec(w.attn_norm, s);
      scale_cols(w.wq, s);
      scale_cols(w.wk, s);
      scale_cols(w.wv, s);
      return true;
    case Site::FfnIn:
      divide_vec(w.ffn_norm, s);
      scale_cols(w.w_gate, s);
      scale_cols(w.w_up, s);
      return true;
    case Site::DownIn:
      divide_rows(w.w_up, s);
      scale_cols(w.w_down, s);
      return true;
    case Site::AttnOut:
      if (c.n_kv_heads != c.n_heads) return false;  // caller: online x·Λ⁻¹ and W_o·Λ via SiteTransform
      divide_rows(w.wv, s);
      scale_cols(w.wo, s);
      return true;
  }
  return false;
}

std::vector<float> weight_column_absmax(std::initializer_list<const Mat*> consumers) {
  std::vector<float> m;
  for (const Mat* w : consumers) {
    if (m.empty()) m.assign(static_cast<size_t>(w->cols()), 0.f);
    DUQ_CHECK(static_cast<int64_t>(m.size()) == w->cols());
    for (int64_t i = 0; i < w->rows(); ++i)
      for (int64_t j = 0; j < w->cols(); ++j)
        m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs((*w)(i, j)));
  }
  return m;
}

std::vector<float> smoothing_weight_max(model::Site site, const model::LayerWeights& w, bool all_consumers) {
  using model::Site;
  switch (site) {
    case Site::AttnIn:
      return all_consumers ? weight_column_absmax({&w.wq, &w.wk, &w.wv}) : weight_column_absmax({&w.wq});
    case Site::AttnOut: return weight_column_absmax({&w.wo});
    case Site::FfnIn:
      return all_consumers ? weight_column_absmax({&w.w_gate, &w.w_up}) : weight_column_absmax({&w.w_up});
    case Site::DownIn: return weight_column_absmax({&w.w_down});
  }
  return {};
}

void smooth_block(const model::ModelConfig& cfg, const QuantOptions& opts,
                  const std::array<std::vector<float>, model::kNumSites>& act_max, model::LayerWeights& w,
                  SiteTransforms& sites, std::array<std::vector<float>, model::kNumSites>* folded) {
  using model::Site;
  const bool smoothquant = opts.method.transform == Transform::Smooth;
  const float floor = smoothquant ? transform::kSmoothQuantSmoothFloor : transform::kDuQuantSmoothFloor;
  for (int s = 0; s < model::kNumSites; ++s) {
    const Site site = static_cast<Site>(s);
    if (smoothquant && site != Site::AttnIn && site != Site::FfnIn) continue;
    const std::vector<float> wmax = smoothing_weight_max(site, w, /*all_consumers=*/smoothquant);
    std::vector<float> sm =
        transform::smoothing_factors(act_max[static_cast<size_t>(s)], wmax, opts.smoothing_alpha(), floor);
    if (!fold_smoothing(cfg, site, sm, w)) sites[static_cast<size_t>(s)].smooth = sm;  // GQA o input: online
    else if (folded) (*folded)[static_cast<size_t>(s)] = sm;
  }
}

}  // namespace duq::calib
