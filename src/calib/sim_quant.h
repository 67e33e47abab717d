// Simulated quantization of a LLaMA model through the forward hooks (what the reference code does):
// at each linear input x ← Q_a(x·G) per token; Q and K after RoPE optionally rotated by a normalised
// Hadamard over head_dim (cancels in q·kᵀ) and quantized per (head, token); V quantized per (head, token).
// The weights themselves are already W·G⁻ᵀ, fake-quantized per output channel, in the model.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "calib/options.h"
#include "calib/site_transform.h"
#include "model/forward.h"
#include "quant/quant_spec.h"
#include "transform/hadamard.h"

namespace duq::calib {

using SiteTransforms = std::array<SiteTransform, model::kNumSites>;

class SimQuantHooks : public model::ForwardHooks {
 public:
  SimQuantHooks(const model::ModelConfig& cfg, const QuantOptions& opts);
  void linear_input(int layer, model::Site site, MatView x) override;
  void qk(int layer, MatView q, MatView k) override;
  void v(int layer, MatView v) override;

  std::vector<SiteTransforms>& sites() { return sites_; }
  const std::vector<SiteTransforms>& sites() const { return sites_; }
  const QuantOptions& options() const { return opts_; }
  // The Q/K head rotation H [hd×hd] (q ← q·H per head; empty when off), as stored in model files.
  const Mat& head_rotation() const { return head_rot_; }
  void set_head_rotation(const Mat& r) { head_rot_ = r; }
  // Q/K clip ratio of a layer: its own (duquant-auto chooses one per layer) or the options' qk clip.
  float qk_clip(int layer) const {
    const float c = qk_clip_[static_cast<size_t>(layer)];
    return c > 0.f ? c : opts_.qk_clip_ratio();
  }
  void set_qk_clip(int layer, float c) { qk_clip_[static_cast<size_t>(layer)] = c; }
  // A layer's key center c [n_kv_heads·hd] (--k-center: k ← k − c after RoPE, before the head rotation and the
  // quantization); empty = none.
  const std::vector<float>& k_center(int layer) const { return k_center_[static_cast<size_t>(layer)]; }
  void set_k_center(int layer, std::vector<float> c) { k_center_[static_cast<size_t>(layer)] = std::move(c); }
  // The per-token activation quantizer of the linear inputs (bits 16 = none); clip 0 = the options' lac.
  void quantize_activation(MatView x, float clip = 0.f) const;
  // A linear input's quantizer on its transformed x: quantize_activation at the site's clip, or with wide
  // channels (st.wide) the integer engine's split (kernels::quantize_acts_split: the wide columns at kWideBits,
  // the rest at abits over their own range).
  void quantize_site_activation(MatView x, const SiteTransform& st) const;

 private:
  model::ModelConfig cfg_;
  QuantOptions opts_;
  std::vector<SiteTransforms> sites_;         // [n_layers]
  std::vector<float> qk_clip_;                // [n_layers], 0 = opts_.qk_clip_ratio()
  std::vector<std::vector<float>> k_center_;  // [n_layers][n_kv_heads·hd], empty = none
  Mat head_rot_;
};

// x [T×D] ← x̂ under the split quantizer of --wide-channels (kernels::quantize_acts_split: the wide columns at
// kWideBits over themselves, the others at `bits` with `clip` over their own range); wide sorted, non-empty.
void fake_quant_split(MatView x, const std::vector<int32_t>& wide, int bits, float clip);

// Per (head, token) fake quantization of x [T × n_heads·hd] (rows of hd values); bits 16 = none.
void quantize_heads(MatView x, int head_dim, int bits, float clip);

// Each head of x [T × n_heads·hd] multiplied by r [hd×hd] (x_h ← x_h·r).
void rotate_heads(MatView x, int head_dim, const Mat& r);

}  // namespace duq::calib
