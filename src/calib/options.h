// What `duquant quantize` / `compare` do: the method and its settings. Defaults are the paper's (spec §6):
// W4A4, activation clip (lac) 0.9 on all linear inputs and on Q/K, weight clip (swc) 0.8, α = 0.6
// (SmoothQuant baseline: 0.5), block 128, 256 greedy steps, one permutation round, 128 calibration
// windows of 2048 tokens (clamped to the model's context).
#pragma once
#include <cstdint>
#include <string>

#include "calib/method.h"
#include "transform/greedy_rotation.h"

namespace duq::calib {

// The method is a transform × rounding pair (calib/method.h: the strategy table of named pairs, e.g.
// duquant+gptq keeps DuQuant's transforms and rounds the transformed weights by GPTQ with the Hessian of the
// transformed, quantized-propagated inputs; duquant+lwc learns per-row clipping on the block's output, spec §5).
struct QuantOptions {
  Method method = Method::DuQuant;
  int wbits = 4, abits = 4;
  int kv_bits = 0;       // 0 = abits (K and V per head and token)
  float lac = 0.9f;      // activation clip ratio (per token, all linear inputs)
  float swc = 0.8f;      // weight clip ratio (per output channel)
  float qk_clip = -1.f;  // Q/K clip; < 0 = lac (the reference applies lac to Q/K too)
  float alpha = -1.f;    // smoothing strength; < 0 = method default (DuQuant 0.6, SmoothQuant and duquant+lwc 0.5)
  bool smooth = true;    // DuQuant ablation: smoothing on/off
  bool permute = true;   // DuQuant ablation: zigzag permutation (off = one rotation only)
  int rounds = 1;        // permutation rounds (rotations = rounds + 1)
  int steps = 256;       // greedy steps N
  int block = 128;       // rotation block size b (clamped to each input's width unless block_explicit)
  bool block_explicit = false;
  transform::SearchVariant variant = transform::SearchVariant::kReference;
  int qk_hadamard = -1;     // Hadamard over head_dim on Q/K: 1 on, 0 off, −1 = on for rotation/duquant
  uint64_t seed = 2;        // the random draws in the search / randomized Hadamard
  int nsamples = 128;       // calibration windows
  int calib_ctx = 2048;     // tokens per calibration window (clamped to the model's context)
  uint64_t calib_seed = 2;  // which windows
  bool progress = true;
  // Weight rounding (GPTQ / AdaDim / LWC methods).
  int group_size = 0;       // weight group size along the grouping axis; 0 = whole row (per channel)
  double gptq_damp = 0.01;  // GPTQ damping λ = damp · mean(diag H)
  int gptq_block = 128;     // GPTQ lazy-update block (columns)
  bool act_order = false;   // GPTQ: columns by decreasing H_jj (adadim+gptq's module choice always uses it)
  bool adadim_per_linear =
      false;             // AdaDim: duquant's per-linear choice (cross-validated) instead of the official per-module one
  int lwc_epochs = 20;   // LWC epochs over the calibration windows
  float lwc_lr = 1e-2f;  // LWC AdamW learning rate (no weight decay)
  float learn_angle = 2e-3f;  // duquant+learn: first Cayley step of the learned rotations (decays linearly to 0)
  bool auto_gptq = true;      // duquant-auto: GPTQ rounding on the chosen grids where it lowers the layer error
  int auto_rows = 8192;       // duquant-auto: calibration rows (whole windows) its error evaluation uses per input
  // Norm tweaking (calib/norm_tweak.h), any quantizing method: the block's RMSNorm weights trained on its output.
  bool norm_tweak = false;
  int norm_tweak_epochs = 10;
  float norm_tweak_lr = 1e-3f;
  // QUIK-style mixed precision: per linear input, the `wide_channels` channels of the transformed input with the
  // largest calibration magnitude stay at kWideBits (activations and the matching weight columns); 0 = none.
  int wide_channels = 0;
  // Key centering: per layer, the calibration mean of K after RoPE is subtracted from every key before K is
  // quantized. q·(k − c) = q·k − q·c shifts all of a query's logits by one constant, which softmax cancels:
  // exact in float, one subtraction per key at run time, and the per-(head, token) grid no longer spends its
  // range on K's common offset.
  bool k_center = false;

  int kv() const { return kv_bits > 0 ? kv_bits : abits; }
  float qk_clip_ratio() const { return qk_clip >= 0 ? qk_clip : lac; }
  // --alpha, else the method's default (the strategy table's: SmoothQuant and duquant+lwc 0.5, DuQuant 0.6).
  float smoothing_alpha() const { return alpha >= 0 ? alpha : method_spec(method).alpha; }
  // Which transform the method searches / draws, and how it rounds the weights.
  bool duquant_transform() const { return method.transform == Transform::DuQuant; }
  bool rotation_transform() const { return method.transform == Transform::Rotation; }
  bool is_auto() const { return method.transform == Transform::Auto; }
  bool uses_gptq() const { return method.rounding == Rounding::Gptq || method.rounding == Rounding::AdaDimGptq; }
  bool uses_adadim() const { return method.rounding == Rounding::AdaDim || method.rounding == Rounding::AdaDimGptq; }
  bool uses_lwc() const { return method.rounding == Rounding::Lwc || method.rounding == Rounding::LearnedRotation; }
  bool learns_rotation() const { return method.rounding == Rounding::LearnedRotation; }
  // QuaRot's weight quantizer for rotation+gptq: symmetric, per-row MSE clip search (not --swc).
  bool quarot_weight_grid() const { return method_spec(method).grid == WeightGrid::QuaRotSymmetric; }
  // Smoothing factors from the FP statistics: SmoothQuant's, or DuQuant's (duquant-auto's candidates too).
  bool uses_smoothing() const {
    return method.transform == Transform::Smooth || ((duquant_transform() || is_auto()) && smooth);
  }
  // Per-site Hessians from all calibration windows are needed (GPTQ rounding or the AdaDim choice).
  bool needs_hessians() const { return uses_gptq() || (uses_adadim() && adadim_per_linear); }
  bool qk_rotate() const {
    return qk_hadamard >= 0 ? qk_hadamard == 1 : (rotation_transform() || duquant_transform() || is_auto());
  }
  // Throws duq::Error on bits outside 2–8 (8 for "off" is allowed as 16 = no quantization), clip ratios
  // outside (0, 1], alpha outside [0, 1], steps/block/rounds/nsamples < 1.
  void validate() const;
  // One line: "duquant W4A4 (kv 4, lac 0.9, swc 0.8, α 0.6, block 128, steps 256, rounds 1, seed 2)".
  std::string describe() const;
};

// Bits of 16 mean "not quantized" on that side (W16A16 = float).
constexpr int kNoQuant = 16;

}  // namespace duq::calib
