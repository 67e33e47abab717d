// Forward and backward of one LLaMA decoder block under simulated quantization, for learnable weight
// clipping (LWC, spec §5): the gradient of L = mean((block(x) − target)²) with respect to the seven linear
// weights as the forward uses them (already fake-quantized: the LWC code chains on to its clip parameters).
//
// The forward is the quantized model's (model/forward.h + calib/sim_quant.h), one window from position 0:
//   xn  = RMSNorm(x)·w_attn          a1 = Q_a(xn·G₀)        q,k,v = a1·Wq/kᵀ/vᵀ
//   q,k ← RoPE (interleaved or rotate-half), then ·R per head (Q/K rotation, optional)
//   q ← Q_h(q, abits, qk_clip), k ← Q_h(k, kv_bits, qk_clip), v ← Q_h(v, kv_bits, 1)   per (head, token)
//   att = softmax(q·kᵀ/√hd, causal)·v per head (GQA: query head h reads KV head h/(n_heads/n_kv))
//   x1  = x + Q_a(att·G₁)·Woᵀ
//   xn2 = RMSNorm(x1)·w_ffn          a2 = Q_a(xn2·G₂)       g,u = a2·Wgᵀ, a2·Wuᵀ
//   y   = x1 + Q_a((silu(g)⊙u)·G₃)·Wdᵀ
// G_s [D_s×D_s] is each site's whole online transform (smoothing kept online, rotations, permutations) as a
// dense matrix; the backward multiplies by G_sᵀ.
// Q_a / Q_h: asymmetric per-row (token or head-token) fake quantization. Its gradient is the reference's
// autograd of round_ste: identity for entries whose code is not clamped, zero for clamped ones, plus (option
// act_scale_grad) the path through the dynamic scale s = clip·(max − min)/(2^b − 1) to the row's max and min
// entries, with ∂x̂_j/∂s = (q_j − z) − [j not clamped]·x_j/s (the zero point is rounded without STE).
// Double precision is available for the gradient check (the float instantiation uses BLAS).
// Why not model::block_forward itself: that forward is float-only and reuses its buffers, while the backward
// needs every intermediate (pre-quantization values included) and the gradient check needs double. The
// forward here is written in block_forward's stages instead (model::BlockPoint: AttnIn, Qk, AttnOut, FfnIn,
// DownIn, Output, one section each in block_grad.cc), so a stage added there is a section added here, and
// tests/calib/lwc_model_test.cc checks its output against model::block_forward under the same quantization.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace duq::calib {

// The seven linears in ModelWeights order.
enum LinearIndex { kLinQ = 0, kLinK, kLinV, kLinO, kLinGate, kLinUp, kLinDown, kNumLinears };

// What the forward quantizes (bits 16 = not quantized).
struct BlockQuantSpec {
  int abits = 16;                                        // linear inputs, per token
  int kv_bits = 16;                                      // K and V, per (head, token)
  float lac = 1.f;                                       // clip of the linear inputs
  float qk_clip = 1.f;                                   // clip of Q and K (V is not clipped)
  std::array<float, 4> site_lac = {0.f, 0.f, 0.f, 0.f};  // per site (model::Site order); 0 = lac (duquant-auto)
  // per site: its wide channels (--wide-channels; quantized at kernels::kWideBits apart from the rest), or empty
  std::array<std::vector<int32_t>, 4> site_wide;
  bool act_scale_grad = true;  // gradient through the dynamic activation scale too (as autograd does)
};

template <class T>
struct BlockParams {
  std::vector<T> attn_norm, ffn_norm;    // [D]
  std::array<Matrix<T>, kNumLinears> w;  // [O×D] as used by the forward
  std::array<Matrix<T>, 4> g;            // per site (model::Site order) G [D_s×D_s]; empty = identity
  Matrix<T> head_rot;                    // [hd×hd] applied to Q and K per head; empty = none
  std::vector<T> k_center;               // [n_kv·hd] subtracted from K after RoPE (--k-center); empty = none
};

// Gradients beyond the weights' (norm tweaking, learned transforms).
template <class T>
struct BlockExtraGrads {
  std::vector<T> attn_norm, ffn_norm;  // ∂L/∂ RMSNorm weights [D]
  // ∂L/∂G_s through the activation path only (a = Q(xn·G_s)): xnᵀ·∂L/∂(xn·G_s); sites with an empty G: empty.
  // A caller that also folds G into the weights (W·G for orthogonal G) adds W₀ᵀ·∂L/∂W itself.
  std::array<Matrix<T>, 4> g;
};

// Runs the block on x [T×D] and returns L = mean((y − target)²) over all T·D entries (y: the block output,
// written to *y when given). With gw, fills gw[i] = ∂L/∂w[i]; with gx, ∂L/∂x; with extra, the norm and G
// gradients.
template <class T>
T block_loss_grad(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<T>& p, const Matrix<T>& x,
                  const Matrix<T>& target, Matrix<T>* y, std::array<Matrix<T>, kNumLinears>* gw, Matrix<T>* gx,
                  BlockExtraGrads<T>* extra = nullptr);

// The activation quantizer of the forward on rows of n values (in place), and its straight-through gradient:
// gin from gout, given the rows x before quantization.
template <class T>
void act_fake_quant_rows(T* x, int64_t rows, int64_t n, int bits, float clip);
template <class T>
void act_fake_quant_rows_grad(const T* x, const T* gout, T* gin, int64_t rows, int64_t n, int bits, float clip,
                              bool scale_grad);
// A linear input's quantizer: act_fake_quant_rows, or with wide channels (sorted, non-empty) the other columns
// at `bits` and `clip` over their own range and the wide ones at kernels::kWideBits, clip 1 (the grid of
// kernels::quantize_acts_split); the gradient is each part's straight-through gradient.
template <class T>
void act_fake_quant_site(T* x, int64_t rows, int64_t n, int bits, float clip, const std::vector<int32_t>& wide);
template <class T>
void act_fake_quant_site_grad(const T* x, const T* gout, T* gin, int64_t rows, int64_t n, int bits, float clip,
                              bool scale_grad, const std::vector<int32_t>& wide);

}  // namespace duq::calib
