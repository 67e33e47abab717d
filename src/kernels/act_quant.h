// Per-token (per-row) activation quantization for the integer GEMMs, optionally fused with the DuQuant
// activation transform X·Λ⁻¹·R̂₁·P·R̂₂ (channel scale, block rotation, permutation, block rotation).
//
// Quantizer (duquant-spec §3, uniform asymmetric, b bits, per row m of X [M×K]):
//   xmin = clip·min_k x[m,k], xmax = clip·max_k x[m,k]            (float)
//   Δ    = clamp((xmax − xmin) / (2^b − 1), 1e-5, 1e4)              (float division)
//   z    = round(clamp(−xmin / Δ, −2^22, 2^22))                     (round half to even)
//   q    = clamp(round(x / Δ) + z, 0, 2^b − 1)                      (float division, half to even)
//   x̂    = (q − z)·Δ
// The ±2^22 clamp on z (not in the spec; OmniQuant clamps at ±1e4) keeps every exact integer product
// below int64 range; it only bites on near-constant rows with |mean| > 4·10^6·Δ.
//
// Layout of QuantActs (what the integer GEMMs consume):
//   codes [M × Kp] u8, row-major, Kp = K rounded up to kActKAlign (64); code q ∈ [0, 2^b − 1] stored as is
//         (A4 uses one byte per code); the padding columns hold code 0, so they add nothing to any dot
//         product or sum (the GEMM uses the real K in its zero-point terms).
//   scale [M] Δ, zero [M] z (int32), sum [M] Σ_k q over the real K (exact, ≤ 255·K).
#pragma once
#include <cstdint>

#include "core/aligned.h"
#include "core/tensor.h"

namespace duq::kernels {

inline constexpr int64_t kActKAlign = 64;
inline constexpr int32_t kZeroPointLimit = 1 << 22;

struct QuantActs {
  int bits = 8;
  int64_t rows = 0, cols = 0, cols_pad = 0;  // M, K, Kp
  AlignedVector<uint8_t> codes;              // [rows × cols_pad]
  AlignedVector<float> scale;                // [rows] Δ
  AlignedVector<int32_t> zero;               // [rows] z
  AlignedVector<int32_t> sum;                // [rows] Σ_k q (real K)
  const uint8_t* row(int64_t m) const { return codes.data() + m * cols_pad; }
};

// The activation transform applied before quantization, per row x [1×K]:
//   a = x ⊙ inv_scale                (Λ⁻¹; skipped when inv_scale is null)
//   b = a · blockdiag(R1, …, R1, R1t) (blocks of `block` columns; R1t [t×t] on the trailing t = K mod block
//                                      columns, identity when null; the whole step skipped when r1 is null)
//   c[j] = b[perm[j]]                (P; skipped when perm is null; perm is a bijection of 0..K−1)
//   d = c · blockdiag(R2, …, R2, R2t) (as for R1)
// All matrices row-major [b×b]. Evaluation order is fixed so every ISA path gives bit-identical floats:
// d[j] = fma(c[i_last], R[i_last][j], … fma(c[i0+1], R[i0+1][j], c[i0]·R[i0][j])) over the block's rows in
// increasing order. Cost O(M·K·block).
struct ActTransform {
  int64_t block = 0;
  const float* inv_scale = nullptr;  // [K]
  const float* r1 = nullptr;         // [block×block]
  const float* r1_tail = nullptr;    // [t×t]
  const int32_t* perm = nullptr;     // [K]
  const float* r2 = nullptr;         // [block×block]
  const float* r2_tail = nullptr;    // [t×t]
};

// x [M×K] → out (resized). bits ∈ [2, 8], clip ∈ (0, 1].
void quantize_acts(ConstMatView x, int bits, float clip, QuantActs& out);
// Same, on the transformed rows; one pass over X per tile of a few tokens (the transformed tile lives in a
// thread-local buffer, never in a full M×K temporary).
void transform_quantize_acts(ConstMatView x, const ActTransform& t, int bits, float clip, QuantActs& out);
// The float transform alone, y [M×K] (same arithmetic as the fused path; for tests and the float model).
void apply_act_transform(ConstMatView x, const ActTransform& t, MatView y);
// x̂ [M×K] from codes (for tests and error analysis).
Mat dequantize_acts(const QuantActs& q);

}  // namespace duq::kernels
