// AVX-512 per-token activation quantization and the fused transform (act_quant.h).
// Transform: tiles of up to kActTile tokens; each block rotation is a small GEMM, 6 tokens × 64 columns
// (24 zmm accumulators) per pass over a 64-column chunk of R, which stays in L1 for all token groups.
// Every output is the same sequential chain as the reference (product, then fma over increasing i), so
// results are bit-identical to ref/ and x86/*_avx2.cc. The last rotation also folds its outputs into a
// per-token running min/max as it stores them (no min/max pass before quantizing), and round(x/Δ) is x·RN(1/Δ)
// rounded, with the division redone for the rare lanes where that could differ (see quantize_row).
// The block rotations run at ~90% of this core's FMA peak; they are ~3/4 of the fused path's time.
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

// Running per-token min/max of everything a rotation stores (so quantization needs no extra pass over the
// row): token g's minimum vector at mm + 32·g, maximum vector at mm + 32·g + 16 (lanes reduced at the end).
inline void mm_update(float* mm, __m512 v, __mmask16 mk) {
  _mm512_store_ps(mm, _mm512_mask_min_ps(_mm512_load_ps(mm), mk, _mm512_load_ps(mm), v));
  _mm512_store_ps(mm + 16, _mm512_mask_max_ps(_mm512_load_ps(mm + 16), mk, _mm512_load_ps(mm + 16), v));
}

// out[g][c + j0 + ...] for g < G and up to 16·NV columns (cols valid of them) of a w-wide block; mm: the
// running min/max of tokens 0..G-1 (or null).
template <int G, int NV>
void rot_chunk(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c, int64_t j0,
               int64_t cols, float* mm) {
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
    for (int v = 0; v < NV; ++v) {
      _mm512_mask_storeu_ps(out + g * ld + c + j0 + 16 * v, mk[v], acc[g][v]);
      if (mm) mm_update(mm + 32 * g, acc[g][v], mk[v]);
    }
}

// Full 64-column chunk for up to 6 tokens with named accumulators (GCC 12 keeps an accumulator array in
// memory, storing it every iteration); tokens ≥ G are compiled out. Same operation order as rot_chunk.
template <int G>
void rot_chunk64(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c, int64_t j0,
                 float* mm) {
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
  if (mm) {
#define DUQ_MM(g)                                                                                   \
  if constexpr (G > g) {                                                                            \
    float* p = mm + 32 * g;                                                                         \
    _mm512_store_ps(p, _mm512_min_ps(_mm512_load_ps(p), _mm512_min_ps(_mm512_min_ps(a##g##0, a##g##1), \
                                                                        _mm512_min_ps(a##g##2, a##g##3)))); \
    _mm512_store_ps(p + 16, _mm512_max_ps(_mm512_load_ps(p + 16),                                   \
                                          _mm512_max_ps(_mm512_max_ps(a##g##0, a##g##1),             \
                                                        _mm512_max_ps(a##g##2, a##g##3))));          \
  }
    DUQ_MM(0) DUQ_MM(1) DUQ_MM(2) DUQ_MM(3) DUQ_MM(4) DUQ_MM(5)
#undef DUQ_MM
  }
}

// Columns [j0, j0 + cols) of one block for `tokens` rows, in groups of up to 6 tokens (mm: as rot_chunk,
// for all `tokens`).
void rot_columns(const float* in, float* out, int64_t ld, int64_t tokens, const float* r, int64_t w, int64_t c,
                 int64_t j0, int64_t cols, float* mm) {
  for (int64_t g0 = 0; g0 < tokens; g0 += 6) {
    const int64_t gn = tokens - g0 < 6 ? tokens - g0 : 6;
    const float* i0 = in + g0 * ld;
    float* o0 = out + g0 * ld;
    float* m0 = mm ? mm + 32 * g0 : nullptr;
    if (cols == 64) {
      switch (gn) {
        case 1: rot_chunk64<1>(i0, o0, ld, r, w, c, j0, m0); break;
        case 2: rot_chunk64<2>(i0, o0, ld, r, w, c, j0, m0); break;
        case 3: rot_chunk64<3>(i0, o0, ld, r, w, c, j0, m0); break;
        case 4: rot_chunk64<4>(i0, o0, ld, r, w, c, j0, m0); break;
        case 5: rot_chunk64<5>(i0, o0, ld, r, w, c, j0, m0); break;
        default: rot_chunk64<6>(i0, o0, ld, r, w, c, j0, m0); break;
      }
      continue;
    }
    // narrow chunk (block width not a multiple of 64): generic masked kernel, 3 tokens at a time
    for (int64_t g1 = 0; g1 < gn; g1 += 3) {
      const int64_t gm = gn - g1 < 3 ? gn - g1 : 3;
      const float* i1 = i0 + g1 * ld;
      float* o1 = o0 + g1 * ld;
      float* m1 = m0 ? m0 + 32 * g1 : nullptr;
      const int nv = static_cast<int>((cols + 15) / 16);
#define DUQ_NV(G)                                                     \
  switch (nv) {                                                       \
    case 1: rot_chunk<G, 1>(i1, o1, ld, r, w, c, j0, cols, m1); break;    \
    case 2: rot_chunk<G, 2>(i1, o1, ld, r, w, c, j0, cols, m1); break;    \
    case 3: rot_chunk<G, 3>(i1, o1, ld, r, w, c, j0, cols, m1); break;    \
    default: rot_chunk<G, 4>(i1, o1, ld, r, w, c, j0, cols, m1); break;   \
  }
      if (gm == 1) { DUQ_NV(1) } else if (gm == 2) { DUQ_NV(2) } else { DUQ_NV(3) }
#undef DUQ_NV
    }
  }
}

// out = in · blockdiag(R, …, R, Rt) for `tokens` rows ld apart. Loop order block → 64-column chunk →
// token groups, so the chunk of R (w × 64 floats, 32 KiB at b = 128) is reused from L1 by every group.
// mm (or null): running min/max of the outputs per token, as rot_chunk.
void block_rotate(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                  const float* rt, float* mm) {
  const int64_t nb = k / b, t = k - nb * b;
  auto blk = [&](const float* m, int64_t w, int64_t c) {
    for (int64_t j0 = 0; j0 < w; j0 += 64)
      rot_columns(in, out, ld, tokens, m, w, c, j0, w - j0 < 64 ? w - j0 : 64, mm);
  };
  for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
  if (t > 0) {
    if (rt) blk(rt, t, nb * b);
    else
      for (int64_t g = 0; g < tokens; ++g) {
        std::memcpy(out + g * ld + nb * b, in + g * ld + nb * b, static_cast<size_t>(t) * sizeof(float));
        if (mm)
          for (int64_t j = nb * b; j < k; j += 16) {
            const __mmask16 mk = tail_mask(k - j);
            mm_update(mm + 32 * g, _mm512_maskz_loadu_ps(mk, in + g * ld + j), mk);
          }
      }
  }
}

// mm: the row's min/max vectors when a rotation already collected them (see mm_update), else null.
void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                  int32_t* zero, int32_t* sum, const float* mm) {
  __m512 vmin, vmax;
  if (mm) {
    vmin = _mm512_load_ps(mm);
    vmax = _mm512_load_ps(mm + 16);
  } else {  // two accumulator pairs: the min/max latency chain, not the loads, bounds a single pair
    vmin = _mm512_set1_ps(x[0]);
    vmax = vmin;
    __m512 vmin2 = vmin, vmax2 = vmin;
    int64_t j = 0;
    for (; j + 32 <= k; j += 32) {
      const __m512 v = _mm512_loadu_ps(x + j), w = _mm512_loadu_ps(x + j + 16);
      vmin = _mm512_min_ps(vmin, v);
      vmax = _mm512_max_ps(vmax, v);
      vmin2 = _mm512_min_ps(vmin2, w);
      vmax2 = _mm512_max_ps(vmax2, w);
    }
    for (; j < k; j += 16) {
      const __mmask16 mk = tail_mask(k - j);
      const __m512 v = _mm512_maskz_loadu_ps(mk, x + j);
      vmin = _mm512_mask_min_ps(vmin, mk, vmin, v);
      vmax = _mm512_mask_max_ps(vmax, mk, vmax, v);
    }
    vmin = _mm512_min_ps(vmin, vmin2);
    vmax = _mm512_max_ps(vmax, vmax2);
  }
  float d;
  int32_t z;
  quant_params(_mm512_reduce_min_ps(vmin), _mm512_reduce_max_ps(vmax), bits, clip, &d, &z);
  const __m512 vd = _mm512_set1_ps(d), vz = _mm512_set1_ps(static_cast<float>(z));
  const __m512 vq = _mm512_set1_ps(static_cast<float>((1 << bits) - 1)), v0 = _mm512_setzero_ps();
  // round(x / Δ) without a division per element: t = x·y with y = RN(1/Δ) differs from the quotient
  // RN(x/Δ) that the reference rounds by at most 3u·|x/Δ| (u = 2^-24; y, the product and the division each
  // contribute ≤ u relative), so both round to the same integer n = round(t) unless a half-integer lies that
  // close to t. A lane is redone by the division itself when |t − n| ≥ thr = RN(0.5 − |t|·2^-20): the
  // margin 16u·|t| covers the 3u·|t| plus thr's own rounding (≤ 2^-25) for |t| ≥ 1/26, and below that
  // |t − n| = |t| is nowhere near 0.5. thr ≤ 0 for |t| ≥ 2^19, and a non-finite t compares unordered, so
  // huge and non-finite lanes are redone too. (t − n is exact: Sterbenz.) Rare on real data.
  const __m512 vy = _mm512_set1_ps(1.f / d), vhalf = _mm512_set1_ps(0.5f);
  const __m512 vtol = _mm512_set1_ps(9.5367431640625e-7f);  // 2^-20
  __m512i s = _mm512_setzero_si512();
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    const __m512 xv = _mm512_maskz_loadu_ps(mk, x + j);
    const __m512 t0 = _mm512_mul_ps(xv, vy);
    __m512 t = _mm512_roundscale_ps(t0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 thr = _mm512_fnmadd_ps(_mm512_abs_ps(t0), vtol, vhalf);
    const __mmask16 bad = _mm512_mask_cmp_ps_mask(mk, _mm512_abs_ps(_mm512_sub_ps(t0, t)), thr, _CMP_NLT_UQ);
    if (bad)
      t = _mm512_mask_roundscale_ps(t, bad, _mm512_div_ps(xv, vd), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
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
                   a.sum + m, nullptr);
    return;
  }
  // min/max of the last rotation's outputs per token (64-byte aligned for the vector loads/stores)
  alignas(64) float mm[kActTile * 32];
  const bool fused_mm = a.r2 && !a.fout;
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
      block_rotate(cur, oth, ld, tm, a.k, a.block, a.r1, a.r1_tail, nullptr);
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
      if (fused_mm)
        for (int64_t g = 0; g < tm; ++g) {
          _mm512_store_ps(mm + 32 * g, _mm512_set1_ps(__builtin_inff()));
          _mm512_store_ps(mm + 32 * g + 16, _mm512_set1_ps(-__builtin_inff()));
        }
      block_rotate(cur, oth, ld, tm, a.k, a.block, a.r2, a.r2_tail, fused_mm ? mm : nullptr);
      swap_ptr(cur, oth);
    }
    for (int64_t g = 0; g < tm; ++g) {
      const int64_t m = m0 + g;
      if (a.fout) std::memcpy(a.fout + m * a.ldf, cur + g * ld, static_cast<size_t>(a.k) * sizeof(float));
      else
        quantize_row(cur + g * ld, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                     a.sum + m, fused_mm ? mm + 32 * g : nullptr);
    }
  }
}

}  // namespace duq::kernels::detail
