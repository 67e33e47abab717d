// AVX-512 per-token activation quantization and the fused transform (act_quant.h).
// Transform: tiles of up to kActTile tokens; each block rotation is a small GEMM, 4 tokens × 64 columns
// (16 zmm accumulators) per pass over the block's rows of R, so each R row is loaded once per 4 tokens.
// Every output is the same sequential chain as the reference (product, then fma over increasing i), so
// results are bit-identical to ref/ and x86/*_avx2.cc.
// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail {
namespace {

// (no std::swap here: a template instantiated in this TU could be merged into baseline callers)
inline void swap_ptr(float*& a, float*& b) {
  float* t = a;
  a = b;
  b = t;
}

inline __mmask16 tail_mask(int64_t cnt) {
  return cnt >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << cnt) - 1u);
}

// out[g][c + j0 + ...] for g < G and up to 16·NV columns (cols valid of them) of a w-wide block.
template <int G, int NV>
void rot_chunk(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c, int64_t j0,
               int64_t cols) {
  __mmask16 mk[NV];
  for (int v = 0; v < NV; ++v) mk[v] = tail_mask(cols - 16 * v);
  __m512 acc[G][NV];
  {
    __m512 rv[NV];
    for (int v = 0; v < NV; ++v) rv[v] = _mm512_maskz_loadu_ps(mk[v], r + j0 + 16 * v);
    for (int g = 0; g < G; ++g) {
      const __m512 xb = _mm512_set1_ps(in[g * ld + c]);
      for (int v = 0; v < NV; ++v) acc[g][v] = _mm512_mul_ps(xb, rv[v]);
    }
  }
  for (int64_t i = 1; i < w; ++i) {
    __m512 rv[NV];
    const float* ri = r + i * w + j0;
    for (int v = 0; v < NV; ++v) rv[v] = _mm512_maskz_loadu_ps(mk[v], ri + 16 * v);
    for (int g = 0; g < G; ++g) {
      const __m512 xb = _mm512_set1_ps(in[g * ld + c + i]);
      for (int v = 0; v < NV; ++v) acc[g][v] = _mm512_fmadd_ps(xb, rv[v], acc[g][v]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + g * ld + c + j0 + 16 * v, mk[v], acc[g][v]);
}

template <int G>
void rot_block(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c) {
  for (int64_t j0 = 0; j0 < w; j0 += 64) {
    const int64_t cols = w - j0 < 64 ? w - j0 : 64;
    switch ((cols + 15) / 16) {
      case 1: rot_chunk<G, 1>(in, out, ld, r, w, c, j0, cols); break;
      case 2: rot_chunk<G, 2>(in, out, ld, r, w, c, j0, cols); break;
      case 3: rot_chunk<G, 3>(in, out, ld, r, w, c, j0, cols); break;
      default: rot_chunk<G, 4>(in, out, ld, r, w, c, j0, cols); break;
    }
  }
}

// out = in · blockdiag(R, …, R, Rt) for `tokens` rows ld apart.
void block_rotate(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                  const float* rt) {
  const int64_t nb = k / b, t = k - nb * b;
  for (int64_t g0 = 0; g0 < tokens; g0 += 4) {
    const int64_t gn = tokens - g0 < 4 ? tokens - g0 : 4;
    const float* i0 = in + g0 * ld;
    float* o0 = out + g0 * ld;
    auto blk = [&](const float* m, int64_t w, int64_t c) {
      switch (gn) {
        case 1: rot_block<1>(i0, o0, ld, m, w, c); break;
        case 2: rot_block<2>(i0, o0, ld, m, w, c); break;
        case 3: rot_block<3>(i0, o0, ld, m, w, c); break;
        default: rot_block<4>(i0, o0, ld, m, w, c); break;
      }
    };
    for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
    if (t > 0) {
      if (rt) blk(rt, t, nb * b);
      else
        for (int64_t g = 0; g < gn; ++g)
          std::memcpy(o0 + g * ld + nb * b, i0 + g * ld + nb * b, static_cast<size_t>(t) * sizeof(float));
    }
  }
}

void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                  int32_t* zero, int32_t* sum) {
  __m512 vmin = _mm512_set1_ps(x[0]), vmax = vmin;
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    const __m512 v = _mm512_maskz_loadu_ps(mk, x + j);
    vmin = _mm512_mask_min_ps(vmin, mk, vmin, v);
    vmax = _mm512_mask_max_ps(vmax, mk, vmax, v);
  }
  float d;
  int32_t z;
  quant_params(_mm512_reduce_min_ps(vmin), _mm512_reduce_max_ps(vmax), bits, clip, &d, &z);
  const __m512 vd = _mm512_set1_ps(d), vz = _mm512_set1_ps(static_cast<float>(z));
  const __m512 vq = _mm512_set1_ps(static_cast<float>((1 << bits) - 1)), v0 = _mm512_setzero_ps();
  __m512i s = _mm512_setzero_si512();
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + j), vd);
    t = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    t = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(t, vz), v0), vq);
    const __m512i q = _mm512_maskz_cvttps_epi32(mk, t);
    s = _mm512_add_epi32(s, q);
    _mm512_mask_cvtepi32_storeu_epi8(codes + j, mk, q);
  }
  if (k_pad > k) std::memset(codes + k, 0, static_cast<size_t>(k_pad - k));
  *delta = d;
  *zero = z;
  *sum = _mm512_reduce_add_epi32(s);
}

}  // namespace

void act_quant_avx512(const ActQuantArgs& a) {
  if (!a.transform) {
    for (int64_t m = 0; m < a.m; ++m)
      quantize_row(a.x + m * a.ldx, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                   a.sum + m);
    return;
  }
  const int64_t ld = (a.k + 15) / 16 * 16;
  float* bufa = a.scratch;
  float* bufb = a.scratch + kActTile * ld;
  for (int64_t m0 = 0; m0 < a.m; m0 += kActTile) {
    const int64_t tm = a.m - m0 < kActTile ? a.m - m0 : kActTile;
    float* cur = bufa;
    float* oth = bufb;
    for (int64_t g = 0; g < tm; ++g) {
      const float* x = a.x + (m0 + g) * a.ldx;
      float* o = cur + g * ld;
      for (int64_t j = 0; j < a.k; j += 16) {
        const __mmask16 mk = tail_mask(a.k - j);
        __m512 v = _mm512_maskz_loadu_ps(mk, x + j);
        if (a.inv_scale) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, a.inv_scale + j));
        _mm512_mask_storeu_ps(o + j, mk, v);
      }
    }
    if (a.r1) {
      block_rotate(cur, oth, ld, tm, a.k, a.block, a.r1, a.r1_tail);
      swap_ptr(cur, oth);
    }
    if (a.perm) {
      for (int64_t g = 0; g < tm; ++g)
        for (int64_t j = 0; j < a.k; j += 16) {
          const __mmask16 mk = tail_mask(a.k - j);
          const __m512i idx = _mm512_maskz_loadu_epi32(mk, a.perm + j);
          const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, idx, cur + g * ld, 4);
          _mm512_mask_storeu_ps(oth + g * ld + j, mk, v);
        }
      swap_ptr(cur, oth);
    }
    if (a.r2) {
      block_rotate(cur, oth, ld, tm, a.k, a.block, a.r2, a.r2_tail);
      swap_ptr(cur, oth);
    }
    for (int64_t g = 0; g < tm; ++g) {
      const int64_t m = m0 + g;
      if (a.fout) std::memcpy(a.fout + m * a.ldf, cur + g * ld, static_cast<size_t>(a.k) * sizeof(float));
      else
        quantize_row(cur + g * ld, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                     a.sum + m);
    }
  }
}

}  // namespace duq::kernels::detail
