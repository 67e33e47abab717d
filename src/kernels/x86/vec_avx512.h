// The AVX-512 vector trait (16 float / int32 lanes, masks): the operations the shared kernel drivers
// (act_quant-inl.h, int_gemm_epilogue-inl.h) ask of an ISA, plus the masked loads the AVX-512 rotation kernels
// use. Included only by x86/*_avx512.cc (compiled with the AVX-512 F/BW/VL/DQ/VNNI flags); the namespace keeps
// these inline functions apart from every other ISA's (ODR).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace duq::kernels::detail::avx512 {

inline __mmask16 tail_mask(int64_t cnt) {
  return cnt >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << cnt) - 1u);
}

struct Vec {
  static constexpr int kLanes = 16;
  using F = __m512;   // float lanes
  using I = __m512i;  // int32 lanes
  using Mask = __mmask16;

  static F set1(float v) { return _mm512_set1_ps(v); }
  static I set1(int32_t v) { return _mm512_set1_epi32(v); }
  static F loadu(const float* p) { return _mm512_loadu_ps(p); }
  static I loadu(const int32_t* p) { return _mm512_loadu_si512(p); }
  static F loadu(const float* p, Mask mk) { return _mm512_maskz_loadu_ps(mk, p); }  // masked-off lanes 0
  static I loadu(const int32_t* p, Mask mk) { return _mm512_maskz_loadu_epi32(mk, p); }
  static void storeu(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store(int32_t* p, I v) { _mm512_store_si512(p, v); }  // 64-byte aligned
  // lanes [0, cnt) only, 1 ≤ cnt ≤ kLanes
  static void storeu_first(float* p, F v, int64_t cnt) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << cnt) - 1u), v);  // cnt = 16: 0xFFFF
  }

  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }  // a·b + c, one rounding
  static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  // Each int32 lane holds two int16: lane l of the result is acc_l + x.lo·r.lo + x.hi·r.hi (exact int32).
  // vpdpwssd in place: through the intrinsic, GCC 12 copies and spills the 24 accumulators of the rotation
  // kernel every iteration.
  static I dot_pairs(I acc, I x, I r) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(r));
    return acc;
  }
  static I dot_pairs_first(I x, I r) { return dot_pairs(_mm512_setzero_si512(), x, r); }
};

}  // namespace duq::kernels::detail::avx512
