// AVX-512 per-token activation quantization and the fused transform (act_quant.h).
// Transform: tiles of up to kActTile tokens; each block rotation is a small GEMM, 6 tokens × 64 columns
// (24 zmm accumulators) per pass over a 64-column chunk of R, which stays in L1 for all token groups.
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

// Full 64-column chunk for up to 6 tokens with named accumulators (GCC 12 keeps an accumulator array in
// memory, storing it every iteration); tokens ≥ G are compiled out. Same operation order as rot_chunk.
template <int G>
void rot_chunk64(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c, int64_t j0) {
  const float* rr = r + j0;
  __m512 r0 = _mm512_loadu_ps(rr), r1 = _mm512_loadu_ps(rr + 16), r2 = _mm512_loadu_ps(rr + 32),
         r3 = _mm512_loadu_ps(rr + 48);
  const float* x = in + c;
#define DUQ_DECL(g) __m512 a##g##0, a##g##1, a##g##2, a##g##3;
  DUQ_DECL(0) DUQ_DECL(1) DUQ_DECL(2) DUQ_DECL(3) DUQ_DECL(4) DUQ_DECL(5)
#undef DUQ_DECL
#define DUQ_FIRST(g)                                 \
  if constexpr (G > g) {                             \
    const __m512 xb = _mm512_set1_ps(x[g * ld]);     \
    a##g##0 = _mm512_mul_ps(xb, r0);                 \
    a##g##1 = _mm512_mul_ps(xb, r1);                 \
    a##g##2 = _mm512_mul_ps(xb, r2);                 \
    a##g##3 = _mm512_mul_ps(xb, r3);                 \
  }
  DUQ_FIRST(0) DUQ_FIRST(1) DUQ_FIRST(2) DUQ_FIRST(3) DUQ_FIRST(4) DUQ_FIRST(5)
#undef DUQ_FIRST
  for (int64_t i = 1; i < w; ++i) {
    rr += w;
    r0 = _mm512_loadu_ps(rr);
    r1 = _mm512_loadu_ps(rr + 16);
    r2 = _mm512_loadu_ps(rr + 32);
    r3 = _mm512_loadu_ps(rr + 48);
#define DUQ_STEP(g)                                      \
  if constexpr (G > g) {                                 \
    const __m512 xb = _mm512_set1_ps(x[g * ld + i]);     \
    a##g##0 = _mm512_fmadd_ps(xb, r0, a##g##0);          \
    a##g##1 = _mm512_fmadd_ps(xb, r1, a##g##1);          \
    a##g##2 = _mm512_fmadd_ps(xb, r2, a##g##2);          \
    a##g##3 = _mm512_fmadd_ps(xb, r3, a##g##3);          \
  }
    DUQ_STEP(0) DUQ_STEP(1) DUQ_STEP(2) DUQ_STEP(3) DUQ_STEP(4) DUQ_STEP(5)
#undef DUQ_STEP
  }
  float* o = out + c + j0;
#define DUQ_STORE(g)                               \
  if constexpr (G > g) {                           \
    _mm512_storeu_ps(o + g * ld, a##g##0);         \
    _mm512_storeu_ps(o + g * ld + 16, a##g##1);    \
    _mm512_storeu_ps(o + g * ld + 32, a##g##2);    \
    _mm512_storeu_ps(o + g * ld + 48, a##g##3);    \
  }
  DUQ_STORE(0) DUQ_STORE(1) DUQ_STORE(2) DUQ_STORE(3) DUQ_STORE(4) DUQ_STORE(5)
#undef DUQ_STORE
}

// Columns [j0, j0 + cols) of one block for `tokens` rows, in groups of up to 6 tokens.
void rot_columns(const float* in, float* out, int64_t ld, int64_t tokens, const float* r, int64_t w, int64_t c,
                 int64_t j0, int64_t cols) {
  for (int64_t g0 = 0; g0 < tokens; g0 += 6) {
    const int64_t gn = tokens - g0 < 6 ? tokens - g0 : 6;
    const float* i0 = in + g0 * ld;
    float* o0 = out + g0 * ld;
    if (cols == 64) {
      switch (gn) {
        case 1: rot_chunk64<1>(i0, o0, ld, r, w, c, j0); break;
        case 2: rot_chunk64<2>(i0, o0, ld, r, w, c, j0); break;
        case 3: rot_chunk64<3>(i0, o0, ld, r, w, c, j0); break;
        case 4: rot_chunk64<4>(i0, o0, ld, r, w, c, j0); break;
        case 5: rot_chunk64<5>(i0, o0, ld, r, w, c, j0); break;
        default: rot_chunk64<6>(i0, o0, ld, r, w, c, j0); break;
      }
      continue;
    }
    // narrow chunk (block width not a multiple of 64): generic masked kernel, 3 tokens at a time
    for (int64_t g1 = 0; g1 < gn; g1 += 3) {
      const int64_t gm = gn - g1 < 3 ? gn - g1 : 3;
      const float* i1 = i0 + g1 * ld;
      float* o1 = o0 + g1 * ld;
      const int nv = static_cast<int>((cols + 15) / 16);
#define DUQ_NV(G)                                                     \
  switch (nv) {                                                       \
    case 1: rot_chunk<G, 1>(i1, o1, ld, r, w, c, j0, cols); break;    \
    case 2: rot_chunk<G, 2>(i1, o1, ld, r, w, c, j0, cols); break;    \
    case 3: rot_chunk<G, 3>(i1, o1, ld, r, w, c, j0, cols); break;    \
    default: rot_chunk<G, 4>(i1, o1, ld, r, w, c, j0, cols); break;   \
  }
      if (gm == 1) { DUQ_NV(1) } else if (gm == 2) { DUQ_NV(2) } else { DUQ_NV(3) }
#undef DUQ_NV
    }
  }
}

// out = in · blockdiag(R, …, R, Rt) for `tokens` rows ld apart. Loop order block → 64-column chunk →
// token groups, so the chunk of R (w × 64 floats, 32 KiB at b = 128) is reused from L1 by every group.
void block_rotate(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                  const float* rt) {
  const int64_t nb = k / b, t = k - nb * b;
  auto blk = [&](const float* m, int64_t w, int64_t c) {
    for (int64_t j0 = 0; j0 < w; j0 += 64) rot_columns(in, out, ld, tokens, m, w, c, j0, w - j0 < 64 ? w - j0 : 64);
  };
  for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
  if (t > 0) {
    if (rt) blk(rt, t, nb * b);
    else
      for (int64_t g = 0; g < tokens; ++g)
        std::memcpy(out + g * ld + nb * b, in + g * ld + nb * b, static_cast<size_t>(t) * sizeof(float));
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
  // round(x / Δ) without a division per element (vdivps is most of this loop's time otherwise): p = x·y with
  // y = RN(1/Δ) is within 3u·|x/Δ| of the quotient RN(x/Δ) that the reference rounds (u = 2^-24; y and
  // the product each add ≤ u, the division itself ≤ u), so both round to the same integer unless a
  // half-integer lies within that distance of p. Lanes within |p|·2^-22 (> 3u·|p|) of a half-integer,
  // with |p| ≥ 2^21, or not finite, are recomputed by the division itself (rare: exact ties, overflow).
  const __m512 vy = _mm512_set1_ps(1.f / d), vhalf = _mm512_set1_ps(0.5f), vbig = _mm512_set1_ps(2097152.f);
  const __m512 vtol = _mm512_set1_ps(2.38418579e-7f);  // 2^-22
  __m512i s = _mm512_setzero_si512();
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    const __m512 xv = _mm512_maskz_loadu_ps(mk, x + j);
    __m512 t = _mm512_mul_ps(xv, vy);
    {
      const __m512 ap = _mm512_abs_ps(t);
      const __m512 fr = _mm512_sub_ps(t, _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
      const __m512 dist = _mm512_abs_ps(_mm512_sub_ps(fr, vhalf));
      const __mmask16 bad = _mm512_mask_cmp_ps_mask(mk, dist, _mm512_mul_ps(ap, vtol), _CMP_LE_OQ) |
                            _mm512_mask_cmp_ps_mask(mk, ap, vbig, _CMP_NLT_UQ);
      if (bad) t = _mm512_mask_div_ps(t, bad, xv, vd);
    }
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
  const int64_t ld = (a.k + 15) / 16 * 16 + 16;  // +16: rows not 4 KiB-aliased in L1
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
