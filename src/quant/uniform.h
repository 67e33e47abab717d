// Uniform quantizers (spec §3): asymmetric min/max with a zero point (the reference default) and
// symmetric absmax, at any granularity a QuantSpec describes. Two forms:
//  - fake_quant: quantize and dequantize in place (what the reference simulates; used for error studies)
//  - quantize / dequantize: integer codes plus one scale and zero point per group, for packing.
//
// Asymmetric, b bits, clip c, per group:  xmin = c·min(x), xmax = c·max(x)
//   Δ = clamp((xmax − xmin)/(2^b − 1), 1e-5, 1e4),  z = round(clamp(−xmin/Δ, −2^22, 2^22))
//   q = clamp(round(x/Δ) + z, 0, 2^b − 1),          x̂ = (q − z)·Δ
// Symmetric: Δ = clamp(c·max|x| / (2^(b−1) − 1), 1e-5, 1e4) and the signed code
//   s = clamp(round(x/Δ), −(2^(b−1) − 1), 2^(b−1) − 1), x̂ = s·Δ.
//   We use the restricted (symmetric) signed range, e.g. int4 in [−7, 7]: the grid is symmetric so
//   negating a value is exact and integer dot products need no zero-point correction; the code −2^(b−1)
//   is never produced. Codes are stored offset by z = 2^(b−1) so both kinds share x̂ = (q − z)·Δ.
// The zero-point clamp is the integer kernels' (kernels::kZeroPointLimit, act_quant.h), so the simulation and
// the engine use one grid. The reference (OmniQuant's CLIPMAX) clamps z at ±1e4, which on a near-constant
// row moves the whole grid: 1.000 … 1.001 at 4 bits, clip 0.9 has Δ = 6·10^-5 and −xmin/Δ = −15000, so
// z = −1e4 dequantizes the maximum to (15 + 10^4)·Δ = 0.6009 instead of the clipped 0.9009. ±2^22 only bites
// when |xmin| > 4·10^6·Δ and keeps every integer product of the GEMMs exact.
// round() is round-half-to-even (std::nearbyint under the default rounding mode), as torch.round.
// All arithmetic is float32 like the reference (x/Δ is a true division, not a multiply by 1/Δ).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "quant/quant_spec.h"

namespace duq::quant {

inline constexpr float kMinScale = 1e-5f;            // CLIPMIN of the reference
inline constexpr float kMaxScale = 1e4f;             // CLIPMAX of the reference
inline constexpr float kZeroPointLimit = 4194304.f;  // 2^22 = kernels::kZeroPointLimit (one grid everywhere)

// One group's grid: x̂ = (q − zero)·scale with the stored code q in [0, 2^bits − 1].
struct GroupParams {
  float scale = 1.f;
  int32_t zero = 0;
};

// Grid for a group whose raw (unclipped) minimum and maximum are xmin ≤ xmax; applies spec.clip.
GroupParams group_params(float xmin, float xmax, const QuantSpec& spec);
// Stored code of x on grid p (clamped to the grid's range).
int32_t quantize_value(float x, GroupParams p, const QuantSpec& spec);
inline float dequantize_value(int32_t q, GroupParams p) { return static_cast<float>(q - p.zero) * p.scale; }

// Integer codes of a [rows × cols] matrix with their per-group grids.
struct QuantizedMat {
  int64_t rows = 0, cols = 0;
  QuantSpec spec;
  int64_t group = 0;                // effective group size along spec.axis
  int64_t groups_per_line = 0;      // groups per row (kRow) or per column (kColumn)
  std::vector<uint8_t> codes;       // [rows × cols] row-major, each in [0, 2^bits − 1]
  std::vector<GroupParams> params;  // kRow: [rows × groups_per_line]; kColumn: [groups_per_line × cols]
  // Index into params of the group holding element (i, j).
  int64_t param_index(int64_t i, int64_t j) const {
    return spec.axis == Axis::kRow ? i * groups_per_line + j / group : (i / group) * cols + j;
  }
  uint8_t code(int64_t i, int64_t j) const { return codes[static_cast<size_t>(i * cols + j)]; }
};

// Throws duq::Error when spec is invalid or does not fit x.
QuantizedMat quantize(ConstMatView x, const QuantSpec& spec);
// out [rows × cols] ← x̂
void dequantize(const QuantizedMat& q, MatView out);
// x ← x̂ in place; equal to dequantize(quantize(x)) exactly.
void fake_quant(MatView x, const QuantSpec& spec);

// The weight clip search of GPTQ's / QuaRot's quantizer (find_params with mse=True, grid 100, maxshrink 0.8,
// norm 2.4): per row of w [O×D], the ratio p ∈ {1, 0.99, …, 0.21} whose whole-row grid (spec with clip p)
// minimises Σ_j |x̂_j − x_j|^2.4 (the first of equal errors). spec.clip is ignored.
std::vector<float> mse_row_clips(ConstMatView w, const QuantSpec& spec);

}  // namespace duq::quant
