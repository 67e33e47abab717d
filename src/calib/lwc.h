// Learnable weight clipping (LWC, spec §5; OmniQuant's LWC as DuQuant uses it): per output row of a
// transformed weight W [O×D] two logits u, l with γ = σ(u), β = σ(l) scaling the row's max and min:
//   s = clamp((γ·max_j W_rj − β·min_j W_rj)/(2^b − 1), 1e-5, 1e4),  z = round(−β·min/s),
//   Ŵ_rj = (clamp(round(W_rj/s) + z, 0, 2^b − 1) − z)·s
// (it replaces the fixed clip --swc). u = l = 4 at the start (γ = β ≈ 0.982). The gradient is the reference's
// autograd of round_ste: ∂Ŵ_rj/∂s = (q_rj − z) − [not clamped]·W_rj/s, z without gradient.
// Training (lwc_train_block): transforms frozen; AdamW (no weight decay) over the calibration windows, one
// window per step; loss = MSE between the float block's output on float-propagated inputs and the quantized
// block's output (activation quantization on) on quantized-propagated inputs. A non-finite loss or parameter
// restores the values (clips and Adam moments) the epoch started from, and training goes on with the next
// epoch, as the authors' LWC script does (the Adam step count keeps advancing, so the retry differs).
#pragma once
#include <array>
#include <span>
#include <vector>

#include "calib/block_grad.h"
#include "calib/sim_quant.h"
#include "core/tensor.h"
#include "model/config.h"
#include "model/weights.h"
#include "quant/uniform.h"

namespace duq::calib {

inline constexpr float kLwcInit = 4.f;

struct LwcRow {
  std::vector<float> u, l;  // [O] logits of γ (max) and β (min)
  explicit LwcRow(int64_t rows = 0) : u(static_cast<size_t>(rows), kLwcInit), l(static_cast<size_t>(rows), kLwcInit) {}
};

// The grid of one row from its raw min/max and logits.
quant::GroupParams lwc_grid(float xmin, float xmax, float u, float l, int bits);
// Codes and grids of w with the learned clipping (asymmetric, per output row).
quant::QuantizedMat lwc_quantize(ConstMatView w, const LwcRow& p, int bits);
// out ← Ŵ (equals dequantize(lwc_quantize(w))).
void lwc_fake_quant(ConstMatView w, const LwcRow& p, int bits, MatView out);
// gu, gl [O] ← ∂L/∂u, ∂L/∂l given g = ∂L/∂Ŵ [O×D].
void lwc_grad(ConstMatView w, const LwcRow& p, int bits, ConstMatView g, std::span<float> gu, std::span<float> gl);

struct LwcOptions {
  int epochs = 20;
  float lr = 1e-2f;
  int wbits = 4;
  // --wide-channels: per linear, its 8-bit wide columns as a dense [O×D] matrix (zero elsewhere; the clipped
  // weights hold 0 there), added to the clipped weights in every forward; null = none.
  std::array<const Mat*, kNumLinears> wide_part{};
};

struct LwcResult {
  std::array<LwcRow, kNumLinears> rows;
  // Mean window loss at the initial clips (before any step) and at the trained ones (after the last epoch),
  // each a forward pass over all windows with fixed clips — not epoch means over moving parameters.
  double loss_first = 0, loss_last = 0;
  int nan_epochs = 0;  // epochs rolled back after a non-finite loss or parameter
  int steps = 0;
};

// The frozen part of a quantized block as block_grad sees it: norms of w, each site's online transform as a
// dense G (rows of I·G), the Q/K head rotation and the key center (empty = none); the weights left empty.
BlockParams<float> frozen_block_params(const model::ModelConfig& cfg, const model::LayerWeights& w,
                                       const SiteTransforms& sites, const Mat& head_rotation,
                                       const std::vector<float>& k_center);
// The quantized block's weights (as the model holds them) put into p.w.
void set_block_weights(const model::LayerWeights& w, BlockParams<float>& p);
// The block quantization a QuantOptions simulates.
BlockQuantSpec block_quant_spec(const QuantOptions& o);

// fixed: norms, site transforms and the head rotation of the block (its w is ignored); w: the seven
// transformed float weights; inputs: quantized-propagated block inputs [T×D] per window; targets: the float
// block's outputs on the float-propagated inputs.
LwcResult lwc_train_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& fixed,
                          const std::array<const Mat*, kNumLinears>& w, const std::vector<Mat>& inputs,
                          const std::vector<Mat>& targets, const LwcOptions& opts);

}  // namespace duq::calib
