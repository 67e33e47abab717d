// Learned rotations from DuQuant's start (duquant+learn; in the spirit of SpinQuant / OSTQuant): at each
// linear input with a DuQuant transform G = Λ⁻¹·R₁·P·R₂ an extra block-diagonal orthogonal R with the block
// layout of R₂ (one shared b×b block for all full blocks — or one per block for `--variant paper` — plus the
// D mod b tail) is trained, starting at I, jointly with LWC's weight clips, on LWC's block loss (quantized-
// propagated inputs against the float block's outputs). The input then sees x·G·R and the consumers W·G⁻ᵀ·R;
// R is folded into R₂ afterwards (R₂·R has R₂'s layout), so the file and the integer engine's fused int16
// rotation kernel are unchanged: no run-time cost.
// R stays exactly orthogonal: each step is a Cayley retraction (Wen & Yin; SpinQuant's Cayley SGD) per block,
//   A = ∇·Rᵀ − R·∇ᵀ (skew), R ← (I + η/2·A)⁻¹·(I − η/2·A)·R,
// with ∇ the Euclidean gradient ∂L/∂R (activation path Gᵀ·∂L/∂(G·R) plus weight path Σ W_fᵀ·∂L/∂(W_f·R),
// the weight quantizer straight-through) summed over the blocks that share a matrix, and η = lr/‖A‖_F (a
// step of fixed angle) decaying linearly to 0. The best epoch (mean window loss) is kept, the start included.
#pragma once
#include <array>
#include <optional>
#include <vector>

#include "calib/block_grad.h"
#include "calib/lwc.h"
#include "transform/block_rotation.h"
#include "transform/dmat.h"

namespace duq::calib {

// A block-diagonal orthogonal matrix with a BlockRotation's layout.
struct LearnedRotation {
  int64_t dim = 0, block = 0;
  std::vector<transform::MatD> blocks;  // 1 shared block, or one per full block
  transform::MatD tail;                 // [r×r], empty when r = 0
  static LearnedRotation identity_like(const transform::BlockRotation& r);
  Mat dense() const;  // the D×D matrix
  // Per-block Euclidean gradients from the dense one (blocks sharing a matrix add up), then one Cayley step
  // of angle `angle` per block (per matrix). Returns false when the gradient is zero.
  void cayley_step(const Mat& grad, double angle);
  // r ← r·R (the block matrices multiplied in place; a shared r with per-block R becomes per-block).
  void fold_into(transform::BlockRotation& r) const;
};

// (I + η/2·A)⁻¹·(I − η/2·A)·R with A = g·Rᵀ − R·gᵀ, η = angle/‖A‖_F (R unchanged when A = 0).
transform::MatD cayley_update(const transform::MatD& r, const transform::MatD& g, double angle);

// ∂L/∂R of one site, R entering as G·R (activations) and W_f·R (its consumers, straight-through):
// g_fixedᵀ·g_act + Σ_i w_f[i]ᵀ·gw[i]. g_fixed [D×D] = the site's frozen G; g_act = ∂L/∂(G·R).
template <class T>
Matrix<T> site_rotation_grad(const Matrix<T>& g_fixed, const Matrix<T>& g_act, const std::vector<const Matrix<T>*>& w_f,
                             const std::vector<const Matrix<T>*>& gw);

struct LearnOptions {
  int epochs = 20;
  float lr_clip = 1e-2f;  // LWC's Adam learning rate
  float angle = 2e-3f;    // first rotation step (radians-like, Frobenius), decaying linearly
  int wbits = 4;
};

struct LearnResult {
  std::array<LwcRow, kNumLinears> rows;
  std::array<std::optional<LearnedRotation>, 4> rot;  // per site (model::Site order); none where not learned
  double loss_first = 0, loss_last = 0;               // mean window loss at the start / of the kept epoch
  int steps = 0;
};

// fixed: norms, each site's frozen dense G and the head rotation; w: the seven folded float weights W·G⁻ᵀ;
// layouts: the R₂ of each site to learn an R for (nullptr = keep that site fixed).
LearnResult learn_train_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& fixed,
                              const std::array<const Mat*, kNumLinears>& w,
                              const std::array<const transform::BlockRotation*, 4>& layouts,
                              const std::vector<Mat>& inputs, const std::vector<Mat>& targets,
                              const LearnOptions& opts);

}  // namespace duq::calib
