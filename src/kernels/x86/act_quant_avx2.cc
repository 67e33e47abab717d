// AVX2 per-token activation quantization and the fused transform (act_quant.h): the shared tile loop
// (act_quant-inl.h) on AVX2 steps. Block rotations (fp32 or int16 pairs) are the generic vector kernels
// (VecRotate: 4 tokens × 16 columns, 8 ymm accumulators, column tails in scalar code with the identical
// arithmetic); the int16 conversion and the quantizer are vectorized here; Λ⁻¹ and P use the scalar steps.
// Results are bit-identical to ref/.
// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/int_kernels_internal.h"
#include "kernels/x86/vec_avx2.h"

#define DUQ_ISA_NS avx2
#include "kernels/act_quant-inl.h"
#undef DUQ_ISA_NS

namespace duq::kernels::detail {
namespace avx2 {
namespace {

// a16 [w + 1] (the pad 0 last) of one block of a row; returns the block's output multiplier
// (rot16_row_scales). Inputs a_j = row[idx ? idx[j] : c + j]·(sc ? sc[j] : 1) (Λ⁻¹ or P fused in; idx and sc
// offset to the block): read once into tmp [w] when fused.
float block_to_i16_avx2(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t k, const Rot16& r,
                        int16_t* a16, float* tmp) {
  const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
  const bool fused = sc || idx;
  const float* a = fused ? tmp : row + c;
  __m256i mx = _mm256_setzero_si256();
  int64_t j = 0;
  for (; j + 8 <= k; j += 8) {
    __m256 v = idx ? _mm256_i32gather_ps(row, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)), 4)
                   : _mm256_loadu_ps(row + c + j);
    if (sc) v = _mm256_mul_ps(v, _mm256_loadu_ps(sc + j));
    if (fused) _mm256_storeu_ps(tmp + j, v);
    mx = _mm256_max_epu32(mx, _mm256_and_si256(_mm256_castps_si256(v), abs_bits));
  }
  alignas(32) uint32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), mx);
  uint32_t s_bits = 0;
  for (uint32_t v : lanes) s_bits = v > s_bits ? v : s_bits;
  for (; j < k; ++j) {
    float f = idx ? row[idx[j]] : row[c + j];
    if (sc) f *= sc[j];
    if (fused) tmp[j] = f;
    uint32_t v;
    std::memcpy(&v, &f, sizeof v);
    v &= 0x7fffffffu;
    s_bits = v > s_bits ? v : s_bits;
  }
  float inv, mult;
  rot16_row_scales(s_bits, r, &inv, &mult);
  if (inv == 0.f) {
    std::memset(a16, 0, static_cast<size_t>(k + 1) * sizeof(int16_t));
    return mult;
  }
  const __m256 vi = _mm256_set1_ps(inv);
  for (j = 0; j + 8 <= k; j += 8) {  // round to nearest even (MXCSR), saturating pack (never bites)
    const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + j), vi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a16 + j),
                     _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)));
  }
  const float lim = static_cast<float>(r.amax);
  for (; j < k; ++j) {
    float v = __builtin_nearbyintf(a[j] * inv);
    v = v > -lim ? v : -lim;
    v = v < lim ? v : lim;
    a16[j] = static_cast<int16_t>(v);
  }
  a16[k] = 0;
  return mult;
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

void quantize_row_avx2(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                       int32_t* zero, int32_t* sum) {
  __m256 vmin = _mm256_set1_ps(x[0]), vmax = vmin;
  int64_t j = 0;
  for (; j + 8 <= k; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    vmin = _mm256_min_ps(vmin, v);
    vmax = _mm256_max_ps(vmax, v);
  }
  float mn = hmin(vmin), mx = hmax(vmax);
  for (; j < k; ++j) {
    mn = x[j] < mn ? x[j] : mn;
    mx = x[j] > mx ? x[j] : mx;
  }
  float d;
  int32_t z;
  quant_params(mn, mx, bits, clip, &d, &z);
  const float qmax = static_cast<float>((1 << bits) - 1), zf = static_cast<float>(z);
  const __m256 vd = _mm256_set1_ps(d), vz = _mm256_set1_ps(zf), vq = _mm256_set1_ps(qmax), v0 = _mm256_setzero_ps();
  __m256i s = _mm256_setzero_si256();
  const __m256i pack_idx = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (j = 0; j + 8 <= k; j += 8) {
    __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + j), vd);
    t = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    t = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(t, vz), v0), vq);
    const __m256i q = _mm256_cvttps_epi32(t);
    s = _mm256_add_epi32(s, q);
    // 8 int32 in 0..255 → 8 bytes
    const __m256i p16 = _mm256_packus_epi32(q, q);                 // per lane: q0..3 q0..3 | q4..7 q4..7
    const __m256i p8 = _mm256_packus_epi16(p16, p16);              // bytes
    const __m256i pk = _mm256_permutevar8x32_epi32(p8, pack_idx);  // dword 0 = lane0, dword 1 = lane1
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + j), _mm256_castsi256_si128(pk));
  }
  alignas(32) int32_t st[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(st), s);
  int32_t total = st[0] + st[1] + st[2] + st[3] + st[4] + st[5] + st[6] + st[7];
  for (; j < k; ++j) {
    float v = __builtin_nearbyintf(x[j] / d) + zf;
    v = v > 0.f ? v : 0.f;
    v = v < qmax ? v : qmax;
    const int32_t q = static_cast<int32_t>(v);
    codes[j] = static_cast<uint8_t>(q);
    total += q;
  }
  if (k_pad > k) std::memset(codes + k, 0, static_cast<size_t>(k_pad - k));
  *delta = d;
  *zero = z;
  *sum = total;
}

struct Steps : ScalarSteps {
  static float block_to_i16(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t w, const Rot16& r,
                            int16_t* a16, float* tmp) {
    return block_to_i16_avx2(row, c, sc, idx, w, r, a16, tmp);
  }
  static void rotate_f32(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                         const float* rt, float* mm) {
    VecRotate<Vec>::rotate_f32(in, out, ld, tokens, k, b, r, rt, mm);
  }
  static void rotate_i16(const int16_t* i16, int64_t ld16, float* out, int64_t ld, const float* mult, int64_t nbt,
                         int64_t tokens, int64_t k, int64_t b, const int32_t* q, const int32_t* qt, float* mm) {
    VecRotate<Vec>::rotate_i16(i16, ld16, out, ld, mult, nbt, tokens, k, b, q, qt, mm);
  }
  static void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                           int32_t* zero, int32_t* sum, const float* /*mm*/) {
    quantize_row_avx2(x, k, k_pad, bits, clip, codes, delta, zero, sum);
  }
};

}  // namespace
}  // namespace avx2

void act_quant_avx2(const ActQuantArgs& a) { avx2::act_quant_tiles<avx2::Steps>(a); }

}  // namespace duq::kernels::detail
