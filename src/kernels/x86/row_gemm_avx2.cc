// AVX2 row-invariant fp32 product (gemm_f32.h matmul_xwt_rows): the 16 lanes are two ymm (lanes 0–7, 8–15), so the
// arithmetic is the AVX-512 path's bit for bit. Two tilings: one pass with two registers per accumulator (2 rows
// × 3 outputs), or two passes over K of 8 lanes each with one register per accumulator (4 rows × 3 outputs: 12
// accumulators + 3 weight + 1 activation registers). Measured on a Zen 3 core, 32000 × 2048: F16 W at M = 16
// 52 → 45 ms and M = 4 15.5 → 12.7 ms with two passes, but M = 1 6.3 → 7.8 ms, and fp32 W slower at every M (its
// 3-row W tile no longer stays in L1 between the passes) — so two passes for F16 W with at least 4 rows only.

#define DUQ_ISA_NS avx2
#include "kernels/row_gemm-inl.h"

#include <algorithm>

namespace duq::kernels::detail {
namespace avx2 {
namespace {

// One pass, two registers per accumulator (lanes 0–7, 8–15), tiles of 2 rows × 3 outputs: one row or fp32 W.
struct Lanes16 {
  struct V {
    __m256 lo, hi;
  };
  static constexpr int kPasses = 1, kRows = 2, kCols = 3;
  static V zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static V load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static V load_first(const float* p, int64_t cnt) {  // lane j loaded when j < cnt
    const __m256i n = _mm256_set1_epi32(static_cast<int>(cnt));
    const __m256i lo = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i hi = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    return {_mm256_maskload_ps(p, lo), _mm256_maskload_ps(p + 8, hi)};
  }
  static V load_h(const uint16_t* p) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)))};
  }
  static V load_h_first(const uint16_t* p, int64_t cnt) {  // halves ≥ cnt read as +0
    alignas(32) uint16_t tmp[16] = {};
    for (int64_t j = 0; j < cnt; ++j) tmp[j] = p[j];
    return load_h(tmp);
  }
  static V fma(V x, V w, V acc) { return {_mm256_fmadd_ps(x.lo, w.lo, acc.lo), _mm256_fmadd_ps(x.hi, w.hi, acc.hi)}; }
  static __m256 fold(const V* parts) { return _mm256_add_ps(parts[0].lo, parts[0].hi); }
};

// Two passes of 8 lanes, one register per accumulator, tiles of 4 rows × 3 outputs: F16 W and ≥ 4 rows.
struct Lanes8 {
  using V = __m256;
  static constexpr int kPasses = 2, kRows = 4, kCols = 3;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load_first(const float* p, int64_t cnt) {  // lane j loaded when j < cnt (none when cnt ≤ 0)
    const __m256i n = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(cnt, 0, 8)));
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  }
  static V load_h(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V load_h_first(const uint16_t* p, int64_t cnt) {  // halves ≥ cnt read as +0
    alignas(16) uint16_t tmp[8] = {};
    for (int64_t j = 0; j < std::min<int64_t>(cnt, 8); ++j) tmp[j] = p[j];
    return load_h(tmp);
  }
  static V fma(V x, V w, V acc) { return _mm256_fmadd_ps(x, w, acc); }
  static __m256 fold(const V* parts) { return _mm256_add_ps(parts[0], parts[1]); }
};

}  // namespace
}  // namespace avx2

void row_gemm_avx2(const RowGemmArgs& a) {
  if (a.wh && a.m >= 4) avx2::row_gemm<avx2::Lanes8>(a);
  else avx2::row_gemm<avx2::Lanes16>(a);
}

}  // namespace duq::kernels::detail
