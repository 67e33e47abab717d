// AVX-512 row-invariant fp32 product (gemm_f32.h matmul_xwt_rows): the 16 lanes are one zmm; micro-tiles of
// 4 rows × 4 outputs (16 accumulators).

// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define DUQ_ISA_NS avx512
#include "kernels/row_gemm-inl.h"

namespace duq::kernels::detail {
namespace avx512 {
namespace {

struct Lanes16 {
  using V = __m512;
  static constexpr int kPasses = 1, kRows = 4, kCols = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_first(const float* p, int64_t cnt) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << cnt) - 1u), p);
  }
  static V load_h(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static V load_h_first(const uint16_t* p, int64_t cnt) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << cnt) - 1u), p));
  }
  static V fma(V x, V w, V acc) { return _mm512_fmadd_ps(x, w, acc); }
  static __m256 fold(const V* parts) {
    return _mm256_add_ps(_mm512_castps512_ps256(parts[0]), _mm512_extractf32x8_ps(parts[0], 1));
  }
};

}  // namespace
}  // namespace avx512

void row_gemm_avx512(const RowGemmArgs& a) { avx512::row_gemm<avx512::Lanes16>(a); }

}  // namespace duq::kernels::detail
