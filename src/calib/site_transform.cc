#include "calib/site_transform.h"

#include "core/error.h"

namespace duq::calib {

namespace {
void scale_cols(MatView x, const std::vector<float>& s, bool divide) {
  DUQ_CHECK(static_cast<int64_t>(s.size()) == x.cols);
  for (int64_t i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j)
      r[j] = divide ? r[j] / s[static_cast<size_t>(j)] : r[j] * s[static_cast<size_t>(j)];
  }
}
}  // namespace

void SiteTransform::apply(MatView x) const {
  if (!smooth.empty()) scale_cols(x, smooth, true);
  if (duquant) duquant->apply(x);
  if (hadamard) hadamard->apply_rows(x);
}

void SiteTransform::fold_weight(MatView w) const {
  if (!smooth.empty()) scale_cols(w, smooth, false);
  if (duquant) duquant->fold_weight(w);
  if (hadamard) hadamard->apply_rows(w);  // orthogonal: G⁻ᵀ = G
}

}  // namespace duq::calib
