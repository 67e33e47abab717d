// The integer engine: a QuantModelData run with real integer arithmetic. Per linear input the online
// transform x·G and the per-token quantization run fused (kernels::transform_quantize_acts) once, and
// every consumer multiplies the shared int8/int4 codes with its packed weights (kernels::int_gemm).
// Q/K are rotated by the stored head rotation and quantized per (head, token), V per (head, token).
#pragma once
#include <functional>
#include <memory>

#include "kernels/act_quant.h"
#include "model/forward.h"
#include "model/online_transform_fp32.h"
#include "model/quant_model.h"

namespace duq::model {

// Transforms no fused kernel takes (the randomized Hadamard, per-block DuQuant rotations) run through a
// TransformFactory (model/online_transform_fp32.h); fp32_transform_factory() builds every stored kind.

// One linear input's run-time path: transform + per-token quantization into shared codes.
class SiteQuantizer {
 public:
  // exact_rotations: DuQuant's rotations in fp32 (the simulation's arithmetic) instead of int16 (the default)
  SiteQuantizer(const OnlineTransform& t, int64_t width, int bits, float clip, const TransformFactory& factory,
                bool exact_rotations = false);
  // chain_ points into inv_scale_ and int_rots_: a move keeps their buffers, a copy would not
  SiteQuantizer(SiteQuantizer&&) noexcept = default;
  SiteQuantizer(const SiteQuantizer&) = delete;
  SiteQuantizer& operator=(const SiteQuantizer&) = delete;
  // x → codes. With wide channels (t.wide) `wide` gets their kWideBits codes and `out` the others'
  // (kernels::quantize_acts_split); `wide` is untouched otherwise.
  void quantize(ConstMatView x, kernels::QuantActs& out, kernels::QuantActs& wide) const;
  bool has_wide() const { return !t_->wide.empty(); }
  // Per-row arithmetic only (no fp32 BLAS transform through the factory, whose result may depend on M).
  bool row_exact() const { return !generic_; }

 private:
  // y ← y·G in float: the generic transform (Λ⁻¹ then the factory's), or the first `steps` steps of chain_.
  void apply_steps(Mat& y, size_t steps) const;
  int bits_;
  float clip_;
  std::vector<kernels::ActTransform> chain_;  // all but the last applied alone, the last fused
  std::vector<float> inv_scale_;
  std::vector<kernels::Int16Rotation> int_rots_;  // the rotations' integer forms (built once; chain_ points here)
  std::function<void(MatView)> generic_;          // Hadamard kind, per-block rotations
  const OnlineTransform* t_;
};

class IntLinears : public BlockLinears {
 public:
  IntLinears(const ModelConfig& c, const QuantLayer& layer, const QuantSettings& q, const TransformFactory& factory,
             bool exact_rotations = false);
  void attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const override;
  void attn_out(ConstMatView att, MatView y) const override;
  void ffn_in(ConstMatView xn, MatView gate, MatView up) const override;
  void down(ConstMatView act, MatView y) const override;
  bool row_exact() const override;

 private:
  void quantize_site(int site, ConstMatView x) const;  // sites_[site] on x into acts_ (and wide_acts_)
  // y = X̂·Ŵᵀ of linear i (QuantLayer order) on the codes of its site, plus its wide columns' W8A8 product.
  void gemm(int linear, MatView y) const;
  const QuantLayer& L_;
  std::vector<SiteQuantizer> sites_;
  mutable kernels::QuantActs acts_, wide_acts_;
  mutable Mat wide_out_;
};

// Q/K head rotation and per-(head, token) quantization of Q (abits) and, with quantize_kv, fake quantization of
// K and V (kv_bits) before they enter the float cache. Without quantize_kv, K and V are left to the quantized
// cache of IntAttention, which stores exactly the same x̂.
class AttentionQuantHooks : public ForwardHooks {
 public:
  AttentionQuantHooks(const ModelConfig& c, const QuantSettings& q, const Mat& qk_rotation, bool quantize_kv = true);
  void qk(int layer, MatView q, MatView k) override;
  void v(int layer, MatView v) override;

 private:
  int hd_;
  QuantSettings q_;
  const Mat& rot_;
  bool quantize_kv_;
  kernels::QuantActs tmp_;
  Mat rot_tmp_;
};

// Attention over a KV cache stored quantized per (KV head, token) at kv_bits (QuantKVCache, kept in
// KVCache::ext): new K/V rows are quantized into it, and each KV head's rows are dequantized (x̂ = (q − z)·Δ,
// the fake quantizer's values) into a contiguous tile for the score and value products. kv_bits 16: the float
// cache, unquantized.
class IntAttention : public BlockAttention {
 public:
  IntAttention(const ModelConfig& c, const QuantSettings& q);
  void attend(int layer, MatView q, MatView k, MatView v, int pos0, KVCache& cache, MatView att) const override;

 private:
  ModelConfig c_;
  int kv_bits_;
  QuantSettings q_;
};

// A ready-to-run quantized model: owns the data, the Model with IntLinears in every block, IntAttention and the
// hooks.
struct IntModel {
  std::unique_ptr<QuantModelData> data;
  std::unique_ptr<Model> model;
  std::unique_ptr<AttentionQuantHooks> hooks;
  Mat forward(std::span<const int> tokens, int pos0, KVCache& cache, bool last_only = false) const {
    return model->forward(tokens, pos0, cache, hooks.get(), last_only);
  }
  Mat forward_batch(std::span<const SeqChunk> chunks) const { return model->forward_batch(chunks, hooks.get()); }
};
// quantized_kv false: the reference path (K/V fake-quantized into the float cache, float attention).
// exact_rotations: the online DuQuant rotations in fp32, as the simulation computes them; default: in exact
// int16 arithmetic (kernels::Int16Rotation, ~3e-4 relative error on the rotated activations, faster).
IntModel make_int_model(std::unique_ptr<QuantModelData> data,
                        const TransformFactory& factory = fp32_transform_factory(), bool quantized_kv = true,
                        bool exact_rotations = false);

// Per-row fake quantization with the kernels' activation quantizer (x ← x̂), for rows of `width` values.
void fake_quant_rows(MatView x, int64_t width, int bits, float clip);
// The same with caller-provided scratch (no allocation once it has grown).
void fake_quant_rows(MatView x, int64_t width, int bits, float clip, kernels::QuantActs& scratch);

}  // namespace duq::model
