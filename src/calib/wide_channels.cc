#include "calib/wide_channels.h"

#include <algorithm>
#include <numeric>

#include "calib/gptq_sites.h"
#include "calib/layer_codes.h"
#include "calib/site_report.h"
#include "core/error.h"
#include "kernels/act_quant.h"
#include "model/quant_model.h"

namespace duq::calib {

void check_wide_channels(int k, int64_t width, int layer, model::Site site) {
  if (k >= width)
    fail("--wide-channels ", k, " is not below the width ", width, " of layer ", layer, "'s ", model::site_name(site),
         " input: choose fewer wide channels than the narrowest linear input has");
}

std::vector<int32_t> choose_wide_channels(ConstMatView x, const SiteTransform& st, int k, int layer, model::Site site) {
  check_wide_channels(k, x.cols, layer, site);
  Mat xt(x);
  st.apply(xt);
  return widest_columns(xt, k);
}

std::vector<Mat> take_wide_columns(const std::vector<Mat*>& consumers, const std::vector<int32_t>& wide) {
  std::vector<Mat> held;
  for (Mat* w : consumers) {
    Mat& h = held.emplace_back(w->rows(), static_cast<int64_t>(wide.size()));
    for (int64_t r = 0; r < w->rows(); ++r)
      for (size_t i = 0; i < wide.size(); ++i) {
        h(r, static_cast<int64_t>(i)) = (*w)(r, wide[i]);
        (*w)(r, wide[i]) = 0.f;
      }
  }
  return held;
}

quant::QuantizedMat quantize_wide_columns(ConstMatView held) {
  quant::QuantSpec spec;
  spec.bits = kernels::kWideBits;
  spec.clip = 1.f;
  return quant::quantize(held, spec);
}

void apply_wide_codes(quant::QuantizedMat& q, const quant::QuantizedMat& wide_q, const std::vector<int32_t>& wide,
                      Mat& w) {
  DUQ_CHECK(q.spec.axis == quant::Axis::kRow && q.groups_per_line == 1, "wide channels need whole-row grids");
  DUQ_CHECK(wide_q.rows == q.rows && wide_q.cols == static_cast<int64_t>(wide.size()), "wide columns: shapes");
  for (int64_t r = 0; r < q.rows; ++r) {
    const int32_t z = q.params[static_cast<size_t>(r)].zero;
    DUQ_CHECK(z >= 0 && z < (1 << q.spec.bits), "wide channels: row ", r, "'s grid has no code for 0 (zero point ", z,
              ")");
    for (int32_t j : wide) q.codes[static_cast<size_t>(r * q.cols + j)] = static_cast<uint8_t>(z);
  }
  quant::dequantize(q, w);
  Mat cols(wide_q.rows, wide_q.cols);
  quant::dequantize(wide_q, cols);
  for (int64_t r = 0; r < cols.rows(); ++r)
    for (size_t k = 0; k < wide.size(); ++k) w(r, wide[k]) = cols(r, static_cast<int64_t>(k));
}

void apply_wide_codes(BlockState& b, int linear, const std::vector<int32_t>& wide) {
  const auto& wq = b.codes.wide[static_cast<size_t>(linear)];
  DUQ_CHECK(wq.has_value(), "wide columns of linear ", linear);
  apply_wide_codes(**block_linear_codes(b.codes)[static_cast<size_t>(linear)], *wq, wide,
                   *block_linears(b.w)[static_cast<size_t>(linear)]);
}

Mat wide_columns_dense(const BlockState& b, int linear, const std::vector<int32_t>& wide) {
  const auto& wq = b.codes.wide[static_cast<size_t>(linear)];
  DUQ_CHECK(wq.has_value() && wq->cols == static_cast<int64_t>(wide.size()), "wide columns of linear ", linear);
  Mat cols(wq->rows, wq->cols);
  quant::dequantize(*wq, cols);
  Mat dense(wq->rows, site_width(b.cfg, model::site_of_linear(linear)));
  for (int64_t r = 0; r < cols.rows(); ++r)
    for (size_t k = 0; k < wide.size(); ++k) dense(r, wide[k]) = cols(r, static_cast<int64_t>(k));
  return dense;
}

void finish_wide_columns(BlockState& b, model::Site site, const std::vector<int32_t>& wide,
                         const std::vector<Mat>& held) {
  for (size_t i = 0; i < held.size(); ++i) {
    const int linear = first_linear(site) + static_cast<int>(i);
    b.codes.wide[static_cast<size_t>(linear)] = quantize_wide_columns(held[i]);
    apply_wide_codes(b, linear, wide);
  }
}

std::vector<int32_t> widest_columns(ConstMatView xt, int k) {
  DUQ_CHECK(k > 0 && k < xt.cols, "widest_columns: ", k, " of ", xt.cols);
  const std::vector<float> mag = column_absmax(xt);
  std::vector<int32_t> order(mag.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by index, so the choice is stable.
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return mag[static_cast<size_t>(a)] > mag[static_cast<size_t>(b)]; });
  std::vector<int32_t> wide(order.begin(), order.begin() + k);
  std::sort(wide.begin(), wide.end());
  return wide;
}

}  // namespace duq::calib
