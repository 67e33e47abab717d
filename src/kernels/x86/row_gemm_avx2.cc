// AVX2 row-invariant fp32 product (gemm_f32.h matmul_xwt_rows): the 16 lanes are two ymm (lanes 0–7, 8–15),
// so the arithmetic is the AVX-512 path's bit for bit; micro-tiles of 2 rows × 3 outputs (12 registers).

#define DUQ_ISA_NS avx2
#include "kernels/row_gemm-inl.h"

namespace duq::kernels::detail {
namespace avx2 {
namespace {

struct Lanes16 {
  struct V {
    __m256 lo, hi;
  };
  static constexpr int kRows = 2, kCols = 3;
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
  static __m256 lo8(V v) { return v.lo; }
  static __m256 hi8(V v) { return v.hi; }
};

}  // namespace
}  // namespace avx2

void row_gemm_avx2(const RowGemmArgs& a) { avx2::row_gemm<avx2::Lanes16>(a); }

}  // namespace duq::kernels::detail
