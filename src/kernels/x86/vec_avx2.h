// The AVX2 vector trait (8 float / int32 lanes): the operations the shared kernel drivers
// (act_quant-inl.h, int_gemm_epilogue-inl.h) ask of an ISA. Included only by x86/*_avx2.cc, which are compiled
// with -mavx2 -mfma -mf16c; the namespace keeps these inline functions apart from every other ISA's (ODR).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace duq::kernels::detail::avx2 {

struct Vec {
  static constexpr int kLanes = 8;
  using F = __m256;   // float lanes
  using I = __m256i;  // int32 lanes

  static F set1(float v) { return _mm256_set1_ps(v); }
  static I set1(int32_t v) { return _mm256_set1_epi32(v); }
  static F loadu(const float* p) { return _mm256_loadu_ps(p); }
  static I loadu(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storeu(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store(int32_t* p, I v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }  // 32-byte aligned
  // lanes [0, cnt) only, 1 ≤ cnt ≤ kLanes
  static void storeu_first(float* p, F v, int64_t cnt) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(cnt)), idx), v);
  }

  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }  // a·b + c, one rounding
  static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  // Each int32 lane holds two int16: lane l of the result is acc_l + x.lo·r.lo + x.hi·r.hi (exact int32).
  static I dot_pairs(I acc, I x, I r) { return _mm256_add_epi32(acc, _mm256_madd_epi16(x, r)); }
  static I dot_pairs_first(I x, I r) { return _mm256_madd_epi16(x, r); }
};

}  // namespace duq::kernels::detail::avx2
