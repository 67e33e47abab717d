// Integer GEMM/GEMV on packed W4/W8 weights and per-token A4/A8 activations (W4A4, W4A8, W8A8, W8A4),
// producing float Y [M×N] = X̂ · Ŵᵀ exactly up to the final float rounding.
//
// Weights W [N×K] (N outputs, K inputs, PyTorch layout) quantized per output row n:
//   ŵ[n,k] = Δw_n·(q[n,k] − zw_n),  q ∈ [0, 2^b − 1] unsigned codes, zw_n an int32 zero point
//   (symmetric int8 is the special case q = s + 128, zw = 128; symmetric int4: q = s + 8, zw = 8).
// Packed storage (PackedWeights::data), Np = N rounded up to 16 (a "panel" of 16 rows), Kp = K rounded up
// to 64; padding rows/columns hold code 0:
//   bits 8: [Np/16 panels][Kp/4 quads][16 rows][4 bytes], byte = q[n, 4·quad + t] − 128 as int8
//           (one 64-byte vector per quad = 16 int32 lanes of 4 products, the vpdpbusd operand).
//   bits 4: [Np/16 panels][Kp/8 octets][16 rows][4 bytes], byte t of a row holds two codes:
//           low nibble = q[n, 8·octet + 2t] (even column), high nibble = q[n, 8·octet + 2t + 1].
//           So a panel is 8·Kp bytes and every weight is read exactly once by the GEMV.
// Per row: scale [Np] Δw, zero [Np] zw, sum [Np] Σ_k q (real K, exact), corr [Np] = Σ_k (q − zw) mod 2^32.
//
// Activations: QuantActs (act_quant.h), u8 codes qx ∈ [0, 2^a − 1] with Δx_m, zx_m, sx_m = Σ_k qx.
//
// Exact integer core. For each (m, n) the kernels compute the exact integer
//   T[m,n] = Σ_k (qx[m,k] − zx_m)(q[n,k] − zw_n)
//          = Σ qx·q − zw·sx − zx·Σq + K·zx·zw
// from one int32 dot product per (m, n) plus precomputed row sums; which signed/unsigned representation
// feeds vpdpbusd (u8 × s8) depends on the path:
//   GEMM (and W8 GEMV): acc = Σ qx·(q − o), o = 128 (W8) or 8 (W4, unpacked to int8 per panel);
//                       T = acc + (o − zw)·sx − zx·corr
//   W4 GEMV:            acc = Σ q·(qx − oa), oa = 128 (A8) or 0 (A≤7), q the unsigned nibble;
//                       T = acc + oa·Σq − zw·sx − zx·corr
// Overflow: |qx| ≤ 255 and |q − o| ≤ 128, so |acc| ≤ 255·128·K < 2^31 for K ≤ 65536 (checked), and
// for K = 16384 at 8 bits |acc| ≤ 5.4·10^8. acc never saturates: AVX2 uses vpmaddubsw only when
// 2·(2^a − 1)·2^(w−1) ≤ 32767 (all cases but W8A8, which widens to int16 and uses vpmaddwd).
// The correction terms are evaluated in wrapping int32 arithmetic, which yields T exactly whenever
// |T| < 2^31; that is guaranteed when K·maxdev_x·maxdev_w < 2^31 with maxdev = max(|z|, |2^b−1−z|)
// (z in range: 16384·255·255 = 1.07·10^9 fits). Otherwise (zero points far out of range) the kernels
// recompute the corrections in int64 — same T.
// Float epilogue, identical in every path:  y[m,n] = float(T) · (Δx_m · Δw_n)   (three float roundings).
#pragma once
#include <cstdint>

#include "core/aligned.h"
#include "core/tensor.h"
#include "kernels/act_quant.h"

namespace duq::kernels {

inline constexpr int64_t kPanelRows = 16;
inline constexpr int64_t kWeightKAlign = 64;
inline constexpr int64_t kMaxGemmK = 65536;

struct PackedWeights {
  int bits = 4;
  int64_t rows = 0, cols = 0;          // N, K
  int64_t rows_pad = 0, cols_pad = 0;  // Np, Kp
  AlignedVector<uint8_t> data;         // see layout above
  AlignedVector<float> scale;          // [Np] Δw (0 in padding rows)
  AlignedVector<int32_t> zero;         // [Np] zw
  AlignedVector<int32_t> sum;          // [Np] Σ_k q
  AlignedVector<int32_t> corr;         // [Np] Σ_k (q − zw) mod 2^32
  int64_t max_dev = 0;                 // max_n max(|zw|, |2^b − 1 − zw|)
  int64_t panel_bytes() const { return bits == 8 ? kPanelRows * cols_pad : kPanelRows * cols_pad / 2; }
};

// Packs unsigned codes [N×K] (row stride ld) with per-row scale and zero point. bits ∈ {4, 8};
// codes must be < 2^bits and |zero| ≤ kZeroPointLimit (DUQ_CHECK), 1 ≤ K ≤ kMaxGemmK.
PackedWeights pack_weights(const uint8_t* codes, int64_t ld, int64_t n, int64_t k, int bits, const float* scale,
                           const int32_t* zero);
// Round-to-nearest per-row quantization of float weights w [N×K] with the §3 quantizer (clip multiplies
// min/max), then pack. For benchmarks, tests and RTN baselines.
PackedWeights quantize_pack_weights(ConstMatView w, int bits, float clip = 1.f);
// Inverse of the packing: codes [N×K] row-major (ld = K).
void unpack_weight_codes(const PackedWeights& w, uint8_t* codes);
// Ŵ [N×K]
Mat dequantize_weights(const PackedWeights& w);

// y [M×N] = X̂ · Ŵᵀ with x.cols == w.cols (y may be a strided view). M == 1 takes the weight-streaming
// GEMV path (every packed weight byte read once); M ≥ 2 the cache-blocked GEMM. On num_threads() threads
// (core/threads.h): the outputs split into ranges of weight panels (and, when there are fewer panel groups
// than threads, of 8-row activation tiles); bit-identical for any thread count.
void int_gemm(const QuantActs& x, const PackedWeights& w, MatView y);
// Mixed precision (--wide-channels; act_quant.h's quantize_acts_split made x and xw): y = X̂·Ŵᵀ + X̂w·Ŵwᵀ,
// the low-bit product over all K columns (Ŵ's wide columns are 0) plus the 8-bit one over the wide columns
// (xw [M×Kw], ww [N×Kw]), added as y[m,n] = a + b in float (one rounding); scratch holds b [M×N].
void int_gemm_wide(const QuantActs& x, const PackedWeights& w, const QuantActs& xw, const PackedWeights& ww, MatView y,
                   Mat& scratch);

}  // namespace duq::kernels
