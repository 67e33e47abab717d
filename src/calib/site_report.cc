#include "calib/site_report.h"

#include <algorithm>
#include <cmath>

#include "kernels/gemm_f32.h"
#include "transform/zigzag.h"

namespace duq::calib {

std::vector<float> column_absmax(ConstMatView x) {
  std::vector<float> m(static_cast<size_t>(x.cols), 0.f);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t j = 0; j < x.cols; ++j)
      m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs(x(t, j)));
  return m;
}

void record_stages(model::Site site, ConstMatView xin, const SiteTransform& st, SiteReport& rep) {
  Mat cur(xin);
  if (st.duquant) {
    const auto& dq = *st.duquant;
    for (size_t i = 0; i < dq.rotations.size(); ++i) {
      dq.rotations[i].apply_rows(cur);
      if (i == 0) rep.absmax_rot1 = column_absmax(cur);
      if (i < dq.perms.size()) {
        transform::permute_columns(cur, dq.perms[i]);
        if (i == 0) rep.absmax_perm = column_absmax(cur);
      }
    }
  } else if (st.hadamard) {
    st.hadamard->apply_rows(cur);
    rep.absmax_rot1 = column_absmax(cur);
  }
  rep.absmax_after = column_absmax(cur);
  if (site == model::Site::DownIn) {
    rep.abs_before = Mat(xin);
    rep.abs_after = std::move(cur);
    for (float& v : rep.abs_before.flat()) v = std::fabs(v);
    for (float& v : rep.abs_after.flat()) v = std::fabs(v);
  }
}

void record_output_error(ConstMatView x_q, const std::vector<Mat*>& consumers, const std::vector<Mat>& ref,
                         SiteReport& rep) {
  // Error sums per token t over the consumers' outputs: e_t = Σ ‖ŷ_t − y_t‖², n_t = Σ ‖y_t‖².
  std::vector<double> e(static_cast<size_t>(x_q.rows), 0.0), n(static_cast<size_t>(x_q.rows), 0.0);
  for (size_t i = 0; i < consumers.size(); ++i) {
    Mat y(x_q.rows, consumers[i]->rows());
    kernels::matmul_xwt(x_q, *consumers[i], y);
    for (int64_t t = 0; t < y.rows(); ++t)
      for (int64_t j = 0; j < y.cols(); ++j) {
        const double r = ref[i](t, j), d = double(y(t, j)) - r;
        e[static_cast<size_t>(t)] += d * d;
        n[static_cast<size_t>(t)] += r * r;
      }
  }
  double num = 0, den = 0, tok = 0;
  for (size_t t = 0; t < e.size(); ++t) {
    num += e[t];
    den += n[t];
    tok += n[t] > 0 ? e[t] / n[t] : 0.0;
  }
  rep.output_rel_error = den > 0 ? std::sqrt(num / den) : 0.0;
  rep.output_token_rel_error = e.empty() ? 0.0 : std::sqrt(tok / static_cast<double>(e.size()));
}

}  // namespace duq::calib
