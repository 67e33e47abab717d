// What `duquant quantize` / `compare` do: the method and its settings. Defaults are the paper's (spec §6):
// W4A4, activation clip (lac) 0.9 on all linear inputs and on Q/K, weight clip (swc) 0.8, α = 0.6
// (SmoothQuant baseline: 0.5), block 128, 256 greedy steps, one permutation round, 128 calibration
// windows of 2048 tokens (clamped to the model's context).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "transform/greedy_rotation.h"

namespace duq::calib {

// Baselines and DuQuant (spec §8). The "+gptq" / "+lwc" variants keep the method's transforms and change how
// the transformed weights are rounded: GPTQ with the Hessian of the transformed, quantized-propagated inputs;
// LWC with per-row clipping learned on the block's output (spec §5). gptq / adadim / adadim+gptq have no
// transform (weight-only baselines; adadim chooses per-IC or per-OC groups per layer, simulated only).
// duquant-auto chooses per linear input the transform (none / smoothing / rotation / DuQuant) and the activation
// clip, and per output row the weight clip, by output error on the calibration data (calib/auto_select.h).
// duquant+learn: duquant+lwc that also learns an orthogonal block rotation after DuQuant's R₂ per input
// (calib/learned_rotation.h), folded into R₂.
enum class Method { Fp, Rtn, SmoothQuant, Rotation, DuQuant, RotationGptq, DuQuantGptq, DuQuantLwc, Gptq, AdaDim, AdaDimGptq,
                    DuQuantAuto, DuQuantLearn };

struct QuantOptions {
  Method method = Method::DuQuant;
  int wbits = 4, abits = 4;
  int kv_bits = 0;         // 0 = abits (K and V per head and token)
  float lac = 0.9f;        // activation clip ratio (per token, all linear inputs)
  float swc = 0.8f;        // weight clip ratio (per output channel)
  float qk_clip = -1.f;    // Q/K clip; < 0 = lac (the reference applies lac to Q/K too)
  float alpha = -1.f;      // smoothing strength; < 0 = method default (DuQuant 0.6, SmoothQuant and duquant+lwc 0.5)
  bool smooth = true;      // DuQuant ablation: smoothing on/off
  bool permute = true;     // DuQuant ablation: zigzag permutation (off = one rotation only)
  int rounds = 1;          // permutation rounds (rotations = rounds + 1)
  int steps = 256;         // greedy steps N
  int block = 128;         // rotation block size b (clamped to each input's width unless block_explicit)
  bool block_explicit = false;
  transform::SearchVariant variant = transform::SearchVariant::kReference;
  int qk_hadamard = -1;    // Hadamard over head_dim on Q/K: 1 on, 0 off, −1 = on for rotation/duquant
  uint64_t seed = 2;       // the random draws in the search / randomized Hadamard
  int nsamples = 128;      // calibration windows
  int calib_ctx = 2048;    // tokens per calibration window (clamped to the model's context)
  uint64_t calib_seed = 2; // which windows
  bool progress = true;
  // Weight rounding (GPTQ / AdaDim / LWC methods).
  int group_size = 0;        // weight group size along the grouping axis; 0 = whole row (per channel)
  double gptq_damp = 0.01;   // GPTQ damping λ = damp · mean(diag H)
  int gptq_block = 128;      // GPTQ lazy-update block (columns)
  bool act_order = false;    // GPTQ: columns by decreasing H_jj (adadim+gptq's module choice always uses it)
  bool adadim_per_linear = false;  // AdaDim: duquant's per-linear choice (cross-validated) instead of the official per-module one
  int lwc_epochs = 20;       // LWC epochs over the calibration windows
  float lwc_lr = 1e-2f;      // LWC AdamW learning rate (no weight decay)
  float learn_angle = 2e-3f; // duquant+learn: first Cayley step of the learned rotations (decays linearly to 0)
  bool auto_gptq = true;      // duquant-auto: GPTQ rounding on the chosen grids where it lowers the layer error
  int auto_rows = 8192;      // duquant-auto: calibration rows (whole windows) its error evaluation uses per input
  // Norm tweaking (calib/norm_tweak.h), any quantizing method: the block's RMSNorm weights trained on its output.
  bool norm_tweak = false;
  int norm_tweak_epochs = 10;
  float norm_tweak_lr = 1e-3f;

  int kv() const { return kv_bits > 0 ? kv_bits : abits; }
  float qk_clip_ratio() const { return qk_clip >= 0 ? qk_clip : lac; }
  // SmoothQuant's default and the authors' LWC script (duquant+lwc) use α 0.5; DuQuant's other scripts 0.6.
  float smoothing_alpha() const {
    return alpha >= 0 ? alpha : (method == Method::SmoothQuant || uses_lwc() ? 0.5f : 0.6f);
  }
  // Which transform the method searches / draws, and how it rounds the weights.
  bool duquant_transform() const {
    return method == Method::DuQuant || method == Method::DuQuantGptq || method == Method::DuQuantLwc ||
           method == Method::DuQuantLearn;
  }
  bool rotation_transform() const { return method == Method::Rotation || method == Method::RotationGptq; }
  bool uses_gptq() const {
    return method == Method::RotationGptq || method == Method::DuQuantGptq || method == Method::Gptq ||
           method == Method::AdaDimGptq;
  }
  // QuaRot's weight quantizer for rotation+gptq: symmetric, per-row MSE clip search (not --swc).
  bool quarot_weight_grid() const { return method == Method::RotationGptq; }
  bool uses_adadim() const { return method == Method::AdaDim || method == Method::AdaDimGptq; }
  bool uses_lwc() const { return method == Method::DuQuantLwc || method == Method::DuQuantLearn; }
  bool learns_rotation() const { return method == Method::DuQuantLearn; }
  bool is_auto() const { return method == Method::DuQuantAuto; }
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

// "fp", "rtn", "smoothquant", "rotation", "duquant", "rotation+gptq", "duquant+gptq", "duquant+lwc", "gptq",
// "adadim", "adadim+gptq" (throws on anything else, listing the choices).
Method parse_method(const std::string& name);
std::string method_name(Method m);
std::vector<std::string> method_names();

// Bits of 16 mean "not quantized" on that side (W16A16 = float).
constexpr int kNoQuant = 16;

}  // namespace duq::calib
