#include "calib/smoothing_fold.h"

#include <cmath>

#include "core/error.h"

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
      for (int64_t j = 0; j < w->cols(); ++j) m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs((*w)(i, j)));
  }
  return m;
}

}  // namespace duq::calib
