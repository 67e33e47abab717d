#include "calib/sim_quant.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/act_quant.h"
#include "kernels/gemm_f32.h"
#include "kernels/nn_ops.h"
#include "quant/uniform.h"

namespace duq::calib {

// The simulated activations must land on the integer engine's grid (quant/uniform.h).
static_assert(quant::kZeroPointLimit == static_cast<float>(kernels::kZeroPointLimit));

SimQuantHooks::SimQuantHooks(const model::ModelConfig& cfg, const QuantOptions& opts)
    : cfg_(cfg),
      opts_(opts),
      sites_(static_cast<size_t>(cfg.n_layers)),
      qk_clip_(static_cast<size_t>(cfg.n_layers), 0.f),
      k_center_(static_cast<size_t>(cfg.n_layers)) {
  if (opts_.qk_rotate()) head_rot_ = transform::Hadamard(cfg.head_dim(), opts.seed).matrix();
}

void SimQuantHooks::quantize_activation(MatView x, float clip) const {
  if (opts_.abits == kNoQuant) return;
  quant::QuantSpec spec;
  spec.bits = opts_.abits;
  spec.clip = clip > 0.f ? clip : opts_.lac;
  quant::fake_quant(x, spec);
}

void fake_quant_split(MatView x, const std::vector<int32_t>& wide, int bits, float clip) {
  kernels::QuantActs narrow, wq;
  kernels::quantize_acts_split(x, wide.data(), static_cast<int64_t>(wide.size()), bits, clip, narrow, wq);
  const Mat xn = kernels::dequantize_acts(narrow), xw = kernels::dequantize_acts(wq);
  for (int64_t t = 0; t < x.rows; ++t) {
    std::copy(xn.row(t), xn.row(t) + x.cols, x.row(t));
    for (size_t i = 0; i < wide.size(); ++i) x.row(t)[wide[i]] = xw(t, static_cast<int64_t>(i));
  }
}

void SimQuantHooks::quantize_site_activation(MatView x, const SiteTransform& st) const {
  if (st.wide.empty() || opts_.abits == kNoQuant) return quantize_activation(x, st.act_clip);
  fake_quant_split(x, st.wide, opts_.abits, st.act_clip > 0.f ? st.act_clip : opts_.lac);
}

void SimQuantHooks::linear_input(int layer, model::Site site, MatView x) {
  const SiteTransform& st = sites_[static_cast<size_t>(layer)][static_cast<size_t>(site)];
  st.apply(x);
  quantize_site_activation(x, st);
}

void quantize_heads(MatView x, int head_dim, int bits, float clip) {
  if (bits == kNoQuant) return;
  DUQ_CHECK(x.contiguous() && x.cols % head_dim == 0);
  quant::QuantSpec spec;
  spec.bits = bits;
  spec.clip = clip;
  quant::fake_quant(MatView(x.data, x.rows * (x.cols / head_dim), head_dim), spec);
}

void rotate_heads(MatView x, int head_dim, const Mat& r) {
  DUQ_CHECK(x.contiguous() && x.cols % head_dim == 0 && r.rows() == head_dim && r.cols() == head_dim);
  MatView heads(x.data, x.rows * (x.cols / head_dim), head_dim);
  Mat tmp(heads);
  kernels::matmul(tmp, r, heads);
}

void SimQuantHooks::qk(int layer, MatView q, MatView k) {
  if (!k_center(layer).empty()) kernels::subtract_from_rows(k, k_center(layer));
  if (head_rot_.size()) {
    rotate_heads(q, cfg_.head_dim(), head_rot_);
    rotate_heads(k, cfg_.head_dim(), head_rot_);
  }
  quantize_heads(q, cfg_.head_dim(), opts_.abits, qk_clip(layer));
  quantize_heads(k, cfg_.head_dim(), opts_.kv(), qk_clip(layer));
}

void SimQuantHooks::v(int layer, MatView v) { quantize_heads(v, cfg_.head_dim(), opts_.kv(), 1.f); }

}  // namespace duq::calib
