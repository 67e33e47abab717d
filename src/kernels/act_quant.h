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
// below int64 range; it only bites on near-constant rows with |mean| > 4·10^6·Δ. The simulation
// (quant/uniform.h, quant::kZeroPointLimit) uses the same clamp, so both quantize to one grid.
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
// Bits of the wide channels (--wide-channels: QUIK's outlier channels kept at 8 bits, activations and weights).
inline constexpr int kWideBits = 8;

struct QuantActs {
  int bits = 8;
  int64_t rows = 0, cols = 0, cols_pad = 0;  // M, K, Kp
  AlignedVector<uint8_t> codes;              // [rows × cols_pad]
  AlignedVector<float> scale;                // [rows] Δ
  AlignedVector<int32_t> zero;               // [rows] z
  AlignedVector<int32_t> sum;                // [rows] Σ_k q (real K)
  const uint8_t* row(int64_t m) const { return codes.data() + m * cols_pad; }
};

// Integer form of one block rotation (R, R_tail), built once per matrix by make_int16_rotation, so that the
// rotation runs as exact int16×int16→int32 dot products (AVX-512 VNNI vpdpwssd, AVX2 vpmaddwd, scalar):
//   Rq = round(R·S) as int16, S (float) per matrix pair: S = min(32767 / max|R_ij|, (2^31−1) / (16383·L)),
//        L the largest column L1 norm Σ_i |R_ij| over R and R_tail;
//   amax = min(32767, ⌊(2^31−1) / Lq⌋), Lq the largest column L1 norm Σ_i |Rq_ij| (exact, in integers);
//   out_scale = RN(1 / (amax·S)).
// Per block a [w] of a row (after Λ⁻¹ or the previous step; each block has its own scale), s = max_j |a_j|:
//   a16_j = nearbyint(a_j · RN(amax / s))   (|a16_j| ≤ amax: |a_j·inv| ≤ amax·(1 + 2^-23) rounds to ≤ amax)
//   acc_j = Σ_i a16_i·Rq[i][j] in int32 — it cannot overflow, whatever the data and the order of summation:
//           every partial sum is ≤ Σ_i |a16_i|·|Rq_ij| ≤ amax·Lq ≤ 2^31 − 1 (any block size: a larger block
//           only lowers S);
//   out_j = float(acc_j) · RN(s·out_scale).
// So every ISA path is bit-identical (integer sums are exact; the float steps are the same single roundings,
// the scales computed by one shared function). Error vs the exact rotation: the block rounding (±0.5 of
// s/amax) and the matrix rounding (±0.5/S per entry, S ≈ 14500 for a random orthogonal 128-block); relative
// RMS ≈ 3–4·10^-4 for R1·P·R2 at b = 128 (measured in act_quant_test), far below even 8-bit activation
// rounding (~10^-2). A block that is all zero (or with max |a| < ~1e-34) gives zeros, one with inf/NaN gives
// NaN. The tail block without a tail matrix is copied exactly. Matrices pair-interleaved: int16 element
// [p·2w + 2j + h] is Rq[2p + h][j] (p < ⌈w/2⌉, the pad row of an odd w zero), so one 32-bit word pairs two
// consecutive inputs for vpdpwssd / vpmaddwd.
struct Int16Rotation {
  int64_t block = 0, tail = 0;          // widths of the full-block and tail matrices (tail 0: none)
  AlignedVector<int16_t> full, tail_q;  // [⌈w/2⌉ × w × 2] each
  int32_t amax = 0;                     // bound on |a16|
  float scale = 0.f;                    // S
  float out_scale = 0.f;                // RN(1 / (amax·S))
};
// r [block×block], r_tail [tail×tail] (null when tail = 0), row-major, finite.
Int16Rotation make_int16_rotation(const float* r, int64_t block, const float* r_tail, int64_t tail);

// The activation transform applied before quantization, per row x [1×K]:
//   a = x ⊙ inv_scale                (Λ⁻¹; skipped when inv_scale is null)
//   b = a · blockdiag(R1, …, R1, R1t) (blocks of `block` columns; R1t [t×t] on the trailing t = K mod block
//                                      columns, identity when null; the whole step skipped when r1 is null)
//   c[j] = b[perm[j]]                (P; skipped when perm is null; perm is a bijection of 0..K−1)
//   d = c · blockdiag(R2, …, R2, R2t) (as for R1)
// All matrices row-major [b×b]. A rotation step whose integer form (r1_int / r2_int, made from the same
// matrices by make_int16_rotation) is set runs in integer arithmetic as described above (faster than fp32:
// docs/benchmarks.md; the integer engine's default, fp32 with --exact-rotations). An integer R1
// reads x ⊙ inv_scale and an integer R2 reads c = b[perm[·]] directly while converting to int16 (no separate
// Λ⁻¹ / P pass; the same float values, so the same bits). Without it the step is exact fp32 with a fixed evaluation
// order, so every ISA path gives bit-identical floats: d[j] = fma(c[i_last], R[i_last][j], …
// fma(c[i0+1], R[i0+1][j], c[i0]·R[i0][j])) over the block's rows in increasing order. Cost O(M·K·block).
// (The simulated / float model never comes here: its transforms are the float matrices in transform/.)
struct ActTransform {
  int64_t block = 0;
  const float* inv_scale = nullptr;       // [K]
  const float* r1 = nullptr;              // [block×block]
  const float* r1_tail = nullptr;         // [t×t]
  const int32_t* perm = nullptr;          // [K]
  const float* r2 = nullptr;              // [block×block]
  const float* r2_tail = nullptr;         // [t×t]
  const Int16Rotation* r1_int = nullptr;  // integer form of (r1, r1_tail), or null
  const Int16Rotation* r2_int = nullptr;  // integer form of (r2, r2_tail), or null
};

// x [M×K] → out (resized). bits ∈ [2, 8], clip ∈ (0, 1].
void quantize_acts(ConstMatView x, int bits, float clip, QuantActs& out);
// Same, on the transformed rows; one pass over X per tile of a few tokens (the transformed tile lives in a
// thread-local buffer, never in a full M×K temporary).
void transform_quantize_acts(ConstMatView x, const ActTransform& t, int bits, float clip, QuantActs& out);
// The transform alone, y [M×K] (same arithmetic as the fused path, integer steps included; for tests and the
// engine's multi-step chains).
void apply_act_transform(ConstMatView x, const ActTransform& t, MatView y);
// Mixed precision (--wide-channels), y [M×K] already transformed; wide = n_wide sorted distinct columns, 0 <
// n_wide < K. `wide_out` [M×n_wide] gets those columns at kWideBits (clip 1); `narrow` [M×K] all columns at
// `bits` with `clip`, where each wide column first holds a copy of the row's first non-wide value: the row's
// min/max, hence Δ, z and every non-wide code, are exactly those of the non-wide columns alone. The weights'
// wide columns are zero (code = zero point) in the matrix that multiplies `narrow`, so the codes there add
// nothing, and the narrow 8-bit matrix over the wide columns multiplies `wide_out`.
void quantize_acts_split(ConstMatView y, const int32_t* wide, int64_t n_wide, int bits, float clip, QuantActs& narrow,
                         QuantActs& wide_out);
// x̂ [M×K] from codes (for tests and error analysis).
Mat dequantize_acts(const QuantActs& q);

}  // namespace duq::kernels
