// Private to src/kernels: the per-ISA entry points behind int_gemm.h and act_quant.h, and the plain-data
// argument blocks they take. The x86/ files see only raw pointers (no std containers, no templates shared
// with baseline code), so no AVX instruction can leak into a baseline caller through an ODR-merged inline.
#pragma once
#include <cstddef>
#include <cstdint>

namespace duq::kernels::detail {

struct GemmArgs {
  // activations: codes [m × k_pad] u8, per row scale / zero / Σq
  const uint8_t* xq = nullptr;
  int64_t m = 0, k = 0, k_pad = 0;
  int abits = 8;
  const float* xs = nullptr;
  const int32_t* xz = nullptr;
  const int32_t* xsum = nullptr;
  // weights (PackedWeights fields)
  const uint8_t* wq = nullptr;
  int wbits = 4;
  int64_t n = 0, n_pad = 0;
  const float* ws = nullptr;
  const int32_t* wz = nullptr;
  const int32_t* wsum = nullptr;
  const int32_t* wcorr = nullptr;
  // output y [m × n], row stride ldy
  float* y = nullptr;
  int64_t ldy = 0;
  bool wide = false;  // |T| may exceed int32: use epilogue_wide
  // scratch, 64-byte aligned, at least gemm_scratch_bytes(k_pad, m): weight panels unpacked for the
  // current group (≤ 64·k_pad bytes), then an int32 accumulator block [m × 64]
  uint8_t* scratch = nullptr;
};
inline size_t gemm_scratch_bytes(int64_t k_pad, int64_t m) {
  return static_cast<size_t>(64 * k_pad + 256 * (m + 16) + 16384);
}
inline size_t gemm_acc_offset(int64_t k_pad) { return static_cast<size_t>(64 * k_pad + 4096); }

// Representation used by the kernel that produced acc (see int_gemm.h):
//   kind 0: acc = Σ qx·(q − o), o = 8 / 128;  kind 1 (W4 GEMV): acc = Σ q·(qx − oa).
// Writes y[n0 .. n0+cnt) of row m from acc[0 .. cnt) with T computed in int64. Baseline ISA.
void epilogue_wide(const GemmArgs& a, int kind, int64_t m, int64_t n0, int64_t cnt, const int32_t* acc);

// Exact T from acc for the fast path is (wrapping int32):
//   kind 0: T = acc + (o − zw)·sx − zx·corr;   kind 1: T = acc + oa·Σq − zw·sx − zx·corr
// then y = float(T) · (Δx·Δw).

void int_gemm_ref(const GemmArgs& a);
void int_gemm_avx2(const GemmArgs& a);
void int_gemm_avx512(const GemmArgs& a);

// The integer form of one rotation step (act_quant.h, Int16Rotation), as the kernels see it. q: the full-block
// matrix, q_tail: the tail matrix (null: the tail columns are copied), both pair-interleaved: for a w-wide
// matrix, the int32 word q32[p·w + j] holds (Rq[2p][j], Rq[2p+1][j]) as (low, high) int16, p < ⌈w/2⌉, the pad
// row of an odd w zero. A row's int16 input a16 therefore enters as 32-bit pairs (a16[c+2p], a16[c+2p+1]);
// the input buffer holds one more int16 (0) after the row's K values so the last pair of an odd tail is
// readable.
struct Rot16 {
  const int32_t* q = nullptr;
  const int32_t* q_tail = nullptr;
  int32_t amax = 0;
  float out_scale = 0.f;
};

// Per-block scales of an integer rotation step (one block of one row), shared by every path so they agree bit
// for bit. s_bits: the block's max |a| as raw bits, max_j (bits(a_j) & 0x7fffffff) (an integer max: order- and
// NaN-proof). Normal block: inv = amax / s, mult = s·out_scale, and a16_j = nearbyint(a_j·inv),
// out_j = float(acc_j)·mult. inv = 0 means a16 = 0: for an all-zero block (or max |a| below ~1e-34, where
// amax / s overflows) mult = 0, so the output is zero; with inf or NaN, mult = NaN, so the output is NaN.
// Baseline ISA.
void rot16_row_scales(uint32_t s_bits, const Rot16& r, float* inv, float* mult);

// The input of an integer rotation step for a tile of tokens, with Λ⁻¹ or P fused into the int16 conversion:
// token g's column j is src[g·ld + (idx ? idx[j] : j)]·(sc ? sc[j] : 1) (the same single float product as the
// separate pass, so fusing changes no bit).
struct FusedIn {
  const float* src;
  int64_t ld;
  const float* sc;
  const int32_t* idx;
  float at(const float* row, int64_t j) const {
    const float v = row[idx ? idx[j] : j];
    return sc ? v * sc[j] : v;
  }
};

struct ActQuantArgs {
  const float* x = nullptr;  // [m × k], row stride ldx
  int64_t m = 0, k = 0, ldx = 0;
  int bits = 8;
  float clip = 1.f;
  // transform (all null / block 0: plain quantization)
  bool transform = false;
  int64_t block = 0;
  const float* inv_scale = nullptr;
  const float* r1 = nullptr;
  const float* r1_tail = nullptr;
  const int32_t* perm = nullptr;
  const float* r2 = nullptr;
  const float* r2_tail = nullptr;
  Rot16 r1i, r2i;  // q set: that rotation step in integer arithmetic (r1 / r2 still set)
  // outputs: codes [m × k_pad] (padding zeroed by the kernel), scale/zero/sum [m]; or, when fout is set,
  // only the transformed floats [m × k] (row stride ldf) and no quantization.
  uint8_t* codes = nullptr;
  int64_t k_pad = 0;
  float* scale = nullptr;
  int32_t* zero = nullptr;
  int32_t* sum = nullptr;
  float* fout = nullptr;
  int64_t ldf = 0;
  // scratch floats, 64-byte aligned, at least act_scratch_floats(k): two float tiles [kActTile × (k + 32)],
  // an int16 tile of the same float count (room for [kActTile × (2k + 64)] int16), then the integer steps'
  // block multipliers [kActTile × ⌈k/b⌉] (≤ kActTile·k, rounded up to 16), then one fused block [≤ k + 16]
  float* scratch = nullptr;
};
inline constexpr int64_t kActTile = 24;  // tokens transformed together (each chunk of R reused from L1)
inline size_t act_scratch_floats(int64_t k) {
  return static_cast<size_t>(3 * kActTile * (k + 32) + (kActTile + 1) * k + 128);
}
// Row stride (int16 elements) of the int16 tile for K columns: ≥ K + 1, a multiple of 32 (64 bytes), +32 so
// rows are not 4 KiB-aliased.
inline int64_t act_i16_ld(int64_t k) { return (k + 32) / 32 * 32 + 32; }

void act_quant_ref(const ActQuantArgs& a);
void act_quant_avx2(const ActQuantArgs& a);
void act_quant_avx512(const ActQuantArgs& a);

// The §3 quantizer's per-row parameters from the row's raw min/max (shared by every path so they agree
// bit for bit). Baseline ISA.
void quant_params(float rmin, float rmax, int bits, float clip, float* delta, int32_t* zero);
// The §3 quantizer on one weight row w [k] (codes [k], no padding). Baseline ISA.
void quantize_weight_row(const float* w, int64_t k, int bits, float clip, uint8_t* codes, float* delta, int32_t* zero);
// Code q[n, k] read back from the packed layout of int_gemm.h (data = PackedWeights::data). Baseline ISA.
uint8_t weight_code(const uint8_t* data, int bits, int64_t k_pad, int64_t n, int64_t k);

}  // namespace duq::kernels::detail
