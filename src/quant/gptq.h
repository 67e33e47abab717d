// GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers"): quantize the columns (input channels) of W [O×D] one at a time and push each column's
// rounding error onto the not yet quantized columns through the inverse Hessian of the layer's
// reconstruction loss ‖X·Wᵀ − X·Ŵᵀ‖², H = 2·XᵀX/N for calibration inputs X [N×D].
//
//   H ← H + λ·I with λ = damp · mean(diag H)          (dead columns, H_jj = 0: H_jj ← 1, W[:, j] ← 0)
//   U = upper Cholesky factor of H⁻¹  (Uᵀ·U = H⁻¹)
//   for blocks of B columns, for column i:  q = Q(w_i), e = (w_i − q)/U_ii,
//     w_j −= e·U_ij for the later columns j of the block; the block's errors reach the columns after the
//     block in one lazy GEMM (W[:, i2:] −= E·U[i1:i2, i2:]).
//   act_order: columns in order of decreasing H_jj, the permutation undone in the result.
//
// Grids: the uniform quantizer of QuantSpec (bits, symmetric/asymmetric, clip). Granularities:
//   kRow, group 0   per output channel: one grid per row from the whole (original) row, as the reference;
//   kRow, group g   per output channel and g consecutive input channels: each group's grid is taken when
//                   GPTQ reaches its first column, from the group's columns as updated so far (the reference's
//                   dynamic groups); with act_order the grids come from the original W (static groups), so
//                   the result keeps contiguous groups;
//   kColumn         per input channel (AdaDim's per-IC quantization), groups of g output channels: each
//                   column's grids are taken from that column as updated when GPTQ reaches it.
// The result is the same QuantizedMat (codes + per-group grids) as quant::quantize returns.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "quant/quant_spec.h"
#include "quant/uniform.h"

namespace duq::quant {

// Running H = 2·XᵀX / N over calibration rows (N rows seen so far), double precision, [D×D] row-major.
class Hessian {
 public:
  Hessian() = default;
  explicit Hessian(int64_t dim);
  int64_t dim() const { return dim_; }
  int64_t rows() const { return rows_; }
  // x [n×D]: adds its n rows.
  void add(ConstMatView x);
  // Adds a precomputed Gram matrix g = xᵀx [D×D] of n rows (e.g. from a BLAS product).
  void add_gram(ConstMatView g, int64_t n);
  // Adds the rows of another Hessian of the same width (H becomes that of both row sets).
  void merge(const Hessian& o);
  // Zeroes the rows and columns of the given channels: GPTQ then treats them as dead (W[:, j] ← 0, no error
  // pushed into or out of them). For channels whose weight columns are quantized apart (--wide-channels): the
  // loss over the rest, ‖X_n·(W_n − Ŵ_n)ᵀ‖², has the Hessian H restricted to the other channels.
  void drop_channels(const std::vector<int32_t>& channels);
  // H_ij (already divided by N and multiplied by 2).
  double operator()(int64_t i, int64_t j) const { return h_[static_cast<size_t>(i * dim_ + j)]; }
  const std::vector<double>& data() const { return h_; }
  // Mean squared output error per calibration row of replacing w by w_hat ([O×D] each):
  //   Σ_rows ‖x·(w − w_hat)ᵀ‖² / N = ½·tr(Δ·H·Δᵀ).
  double output_error(ConstMatView w, ConstMatView w_hat) const;

 private:
  int64_t dim_ = 0, rows_ = 0;
  std::vector<double> h_;  // 2·Σxᵀx / rows_
};

struct GptqOptions {
  double damp = 0.01;      // λ = damp · mean(diag H)
  int64_t block = 128;     // columns per lazy-update block
  bool act_order = false;  // columns by decreasing H_jj
  // Per-row clip ratios for whole-row grids (per output channel, group 0): row r's grid uses row_clip[r]
  // instead of spec.clip (duquant-auto's per-row choice). Empty = spec.clip everywhere.
  std::vector<float> row_clip;
};

// Quantizes w [O×D] (D = h.dim()). Throws duq::Error when the spec does not fit w, the Hessian's size differs,
// or H + λI is not positive definite (raise damp).
QuantizedMat gptq_quantize(ConstMatView w, const Hessian& h, const QuantSpec& spec, const GptqOptions& opts = {});

}  // namespace duq::quant
