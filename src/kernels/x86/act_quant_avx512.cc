// AVX-512 per-token activation quantization and the fused transform (act_quant.h): the shared tile loop
// (act_quant-inl.h) on AVX-512 steps, every step vectorized here.
// Transform: tiles of up to kActTile tokens; each block rotation is a small GEMM, 6 tokens × 64 columns
// (24 zmm accumulators) per pass over a 64-column chunk of R, which stays in L1 for all token groups. One set
// of kernels serves both arithmetics: exact fp32 (every output the same sequential chain as the reference,
// product then fma over increasing i) and the integer form (vpdpwssd on int16 pairs, exact int32 sums, ~2×
// the MACs per instruction), so results are bit-identical to ref/ and x86/*_avx2.cc either way. The last
// rotation also folds its outputs into a per-token running min/max as it stores them (no min/max pass before
// quantizing), and round(x/Δ) is x·RN(1/Δ) rounded, with the division redone for the rare lanes where that
// could differ (see quantize_row).
// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/int_kernels_internal.h"
#include "kernels/x86/vec_avx512.h"

#define DUQ_ISA_NS avx512
#include "kernels/act_quant-inl.h"
#undef DUQ_ISA_NS

namespace duq::kernels::detail {
namespace avx512 {
namespace {

using F32 = F32Op<Vec>;
using I16 = I16Op<Vec>;
constexpr int64_t kMM = 32;  // floats of running min/max per token (see mm_update)

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Running per-token min/max of everything a rotation stores (so quantization needs no extra pass over the
// row): token g's minimum vector at mm + 32·g, maximum vector at mm + 32·g + 16 (lanes reduced at the end).
inline void mm_update(float* mm, __m512 v, __mmask16 mk) {
  _mm512_store_ps(mm, _mm512_mask_min_ps(_mm512_load_ps(mm), mk, _mm512_load_ps(mm), v));
  _mm512_store_ps(mm + 16, _mm512_mask_max_ps(_mm512_load_ps(mm + 16), mk, _mm512_load_ps(mm + 16), v));
}

// out[g][c + j0 + ...] for g < G and up to 16·NV columns (cols valid of them) of a w-wide block.
template <class Op, int G, int NV>
void rot_chunk(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c, int64_t j0, int64_t cols) {
  using V = typename Op::V;
  __mmask16 mk[NV];
  for (int v = 0; v < NV; ++v) mk[v] = tail_mask(cols - 16 * v);
  V acc[G][NV];
  {
    V rv[NV];
    for (int v = 0; v < NV; ++v) rv[v] = Op::load(r + j0 + 16 * v, mk[v]);
    for (int g = 0; g < G; ++g) {
      const V xb = Op::bcast(io.in + g * io.ldi + c, 0);
      for (int v = 0; v < NV; ++v) acc[g][v] = Op::first(xb, rv[v]);
    }
  }
  const int64_t n = Op::rows(w);
  for (int64_t i = 1; i < n; ++i) {
    V rv[NV];
    const typename Op::R* ri = r + i * w + j0;
    for (int v = 0; v < NV; ++v) rv[v] = Op::load(ri + 16 * v, mk[v]);
    for (int g = 0; g < G; ++g) {
      const V xb = Op::bcast(io.in + g * io.ldi + c, i);
      for (int v = 0; v < NV; ++v) acc[g][v] = Op::step(acc[g][v], xb, rv[v]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int v = 0; v < NV; ++v) {
      const __m512 o = Op::out(acc[g][v], io.mu(g));
      _mm512_mask_storeu_ps(io.out + g * io.ldo + c + j0 + 16 * v, mk[v], o);
      if (io.mm) mm_update(io.mm + kMM * g, o, mk[v]);
    }
}

// Full 64-column chunk for up to 6 tokens with named accumulators (GCC 12 keeps an accumulator array in
// memory, storing it every iteration); tokens ≥ G are compiled out. Same operation order as rot_chunk.
template <class Op, int G>
void rot_chunk64(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c, int64_t j0) {
  using V = typename Op::V;
  const typename Op::R* rr = r + j0;
  V r0 = Op::load(rr), r1 = Op::load(rr + 16), r2 = Op::load(rr + 32), r3 = Op::load(rr + 48);
  const typename Op::In* x = io.in + c;
  const int64_t ld = io.ldi;
#define DUQ_DECL(g) V a##g##0, a##g##1, a##g##2, a##g##3;
  // A run of macro calls: clang-format re-wraps it differently on every pass.
  // clang-format off
  DUQ_DECL(0) DUQ_DECL(1) DUQ_DECL(2) DUQ_DECL(3) DUQ_DECL(4) DUQ_DECL(5)
  // clang-format on
#undef DUQ_DECL
#define DUQ_FIRST(g)                       \
  if constexpr (G > g) {                   \
    const V xb = Op::bcast(x + g * ld, 0); \
    a##g##0 = Op::first(xb, r0);           \
    a##g##1 = Op::first(xb, r1);           \
    a##g##2 = Op::first(xb, r2);           \
    a##g##3 = Op::first(xb, r3);           \
  }
      DUQ_FIRST(0) DUQ_FIRST(1) DUQ_FIRST(2) DUQ_FIRST(3) DUQ_FIRST(4) DUQ_FIRST(5)
#undef DUQ_FIRST
          const int64_t n = Op::rows(w);
  for (int64_t i = 1; i < n; ++i) {
    rr += w;
    r0 = Op::load(rr);
    r1 = Op::load(rr + 16);
    r2 = Op::load(rr + 32);
    r3 = Op::load(rr + 48);
#define DUQ_STEP(g)                        \
  if constexpr (G > g) {                   \
    const V xb = Op::bcast(x + g * ld, i); \
    a##g##0 = Op::step(a##g##0, xb, r0);   \
    a##g##1 = Op::step(a##g##1, xb, r1);   \
    a##g##2 = Op::step(a##g##2, xb, r2);   \
    a##g##3 = Op::step(a##g##3, xb, r3);   \
  }
    DUQ_STEP(0) DUQ_STEP(1) DUQ_STEP(2) DUQ_STEP(3) DUQ_STEP(4) DUQ_STEP(5)
#undef DUQ_STEP
  }
  float* o = io.out + c + j0;
#define DUQ_STORE(g)                                                                                                   \
  if constexpr (G > g) {                                                                                               \
    const float mu = io.mu(g);                                                                                         \
    const __m512 o0 = Op::out(a##g##0, mu), o1 = Op::out(a##g##1, mu), o2 = Op::out(a##g##2, mu),                      \
                 o3 = Op::out(a##g##3, mu);                                                                            \
    float* og = o + g * io.ldo;                                                                                        \
    _mm512_storeu_ps(og, o0);                                                                                          \
    _mm512_storeu_ps(og + 16, o1);                                                                                     \
    _mm512_storeu_ps(og + 32, o2);                                                                                     \
    _mm512_storeu_ps(og + 48, o3);                                                                                     \
    if (io.mm) {                                                                                                       \
      float* p = io.mm + kMM * g;                                                                                      \
      _mm512_store_ps(p,                                                                                               \
                      _mm512_min_ps(_mm512_load_ps(p), _mm512_min_ps(_mm512_min_ps(o0, o1), _mm512_min_ps(o2, o3))));  \
      _mm512_store_ps(                                                                                                 \
          p + 16, _mm512_max_ps(_mm512_load_ps(p + 16), _mm512_max_ps(_mm512_max_ps(o0, o1), _mm512_max_ps(o2, o3)))); \
    }                                                                                                                  \
  }
  DUQ_STORE(0) DUQ_STORE(1) DUQ_STORE(2) DUQ_STORE(3) DUQ_STORE(4) DUQ_STORE(5)
#undef DUQ_STORE
}

// Columns [j0, j0 + cols) of one block for `tokens` rows, in groups of up to 6 tokens.
template <class Op>
void rot_columns(const RotIo<Op>& io, int64_t tokens, const typename Op::R* r, int64_t w, int64_t c, int64_t j0,
                 int64_t cols) {
  for (int64_t g0 = 0; g0 < tokens; g0 += 6) {
    const int64_t gn = tokens - g0 < 6 ? tokens - g0 : 6;
    const RotIo<Op> i0 = io.at(g0);
    if (cols == 64) {
      switch (gn) {
        case 1: rot_chunk64<Op, 1>(i0, r, w, c, j0); break;
        case 2: rot_chunk64<Op, 2>(i0, r, w, c, j0); break;
        case 3: rot_chunk64<Op, 3>(i0, r, w, c, j0); break;
        case 4: rot_chunk64<Op, 4>(i0, r, w, c, j0); break;
        case 5: rot_chunk64<Op, 5>(i0, r, w, c, j0); break;
        default: rot_chunk64<Op, 6>(i0, r, w, c, j0); break;
      }
      continue;
    }
    // narrow chunk (block width not a multiple of 64): generic masked kernel, 3 tokens at a time
    for (int64_t g1 = 0; g1 < gn; g1 += 3) {
      const int64_t gm = gn - g1 < 3 ? gn - g1 : 3;
      const RotIo<Op> i1 = i0.at(g1);
      const int nv = static_cast<int>((cols + 15) / 16);
#define DUQ_NV(G)                                               \
  switch (nv) {                                                 \
    case 1: rot_chunk<Op, G, 1>(i1, r, w, c, j0, cols); break;  \
    case 2: rot_chunk<Op, G, 2>(i1, r, w, c, j0, cols); break;  \
    case 3: rot_chunk<Op, G, 3>(i1, r, w, c, j0, cols); break;  \
    default: rot_chunk<Op, G, 4>(i1, r, w, c, j0, cols); break; \
  }
      if (gm == 1) {
        DUQ_NV(1)
      } else if (gm == 2) {
        DUQ_NV(2)
      } else {
        DUQ_NV(3)
      }
#undef DUQ_NV
    }
  }
}

// out = in · blockdiag(R, …, R, Rt) for `tokens` rows. Loop order block → 64-column chunk → token groups, so
// the chunk of R (⌈w⌉ rows × 64 words: 32 KiB F32, 16 KiB I16 at b = 128) is reused from L1 by every group. A
// tail without matrix is copied from the float rows fin (io.ldo apart; fin = io.out: already in place).
template <class Op>
void block_rotate(const RotIo<Op>& io, const float* fin, int64_t tokens, int64_t k, int64_t b, const typename Op::R* r,
                  const typename Op::R* rt) {
  const int64_t nb = k / b, t = k - nb * b;
  auto blk = [&](const typename Op::R* m, int64_t w, int64_t c) {
    RotIo<Op> ib = io;
    if (ib.mult) ib.mult += c / b;
    for (int64_t j0 = 0; j0 < w; j0 += 64) rot_columns<Op>(ib, tokens, m, w, c, j0, w - j0 < 64 ? w - j0 : 64);
  };
  for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
  if (t > 0) {
    if (rt) blk(rt, t, nb * b);
    else
      for (int64_t g = 0; g < tokens; ++g) {
        const float* src = fin + g * io.ldo + nb * b;
        if (fin != io.out) std::memcpy(io.out + g * io.ldo + nb * b, src, static_cast<size_t>(t) * sizeof(float));
        if (io.mm)
          for (int64_t j = 0; j < t; j += 16) {
            const __mmask16 mk = tail_mask(t - j);
            mm_update(io.mm + kMM * g, _mm512_maskz_loadu_ps(mk, src + j), mk);
          }
      }
  }
}

// a16 [w + 1] (the pad 0 last) of one block of a row for an integer rotation step; returns the block's
// output multiplier (rot16_row_scales). The block's inputs are a_j = row[idx ? idx[j] : c + j]·(sc ? sc[j] : 1)
// (Λ⁻¹ or P fused in; idx and sc already offset to the block, row the row start): read once into tmp [w, 64-byte
// aligned, rounded up to 16] when fused, so the max search and the conversion see the same floats.
float block_to_i16_avx512(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t k, const Rot16& r,
                          int16_t* a16, float* tmp) {
  const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
  const bool fused = sc || idx;
  const float* a = fused ? tmp : row + c;
  __m512i mx = _mm512_setzero_si512();
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    __m512 v = idx ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, _mm512_maskz_loadu_epi32(mk, idx + j), row, 4)
                   : _mm512_maskz_loadu_ps(mk, row + c + j);
    if (sc) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, sc + j));
    if (fused) _mm512_store_ps(tmp + j, v);
    mx = _mm512_max_epu32(mx, _mm512_and_si512(_mm512_castps_si512(v), abs_bits));
  }
  float inv, mult;
  rot16_row_scales(_mm512_reduce_max_epu32(mx), r, &inv, &mult);
  if (inv == 0.f) {
    std::memset(a16, 0, static_cast<size_t>(k + 1) * sizeof(int16_t));
    return mult;
  }
  const __m512 vi = _mm512_set1_ps(inv);
  for (int64_t j = 0; j < k; j += 16) {  // round to nearest even (MXCSR), saturating to int16 (never bites)
    const __mmask16 mk = tail_mask(k - j);
    _mm512_mask_cvtsepi32_storeu_epi16(a16 + j, mk,
                                       _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a + j), vi)));
  }
  a16[k] = 0;
  return mult;
}

// mm: the row's min/max vectors when a rotation already collected them (see mm_update), else null.
void quantize_row_avx512(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
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
  const float rmin = _mm512_reduce_min_ps(vmin), rmax = _mm512_reduce_max_ps(vmax);
  quant_params(rmin, rmax, bits, clip, &d, &z);
  const __m512 vd = _mm512_set1_ps(d), vz = _mm512_set1_ps(static_cast<float>(z));
  const __m512 vq = _mm512_set1_ps(static_cast<float>((1 << bits) - 1));
  // round(x / Δ) without a division per element: t = x·y with y = RN(1/Δ) differs from the quotient
  // RN(x/Δ) that the reference rounds by at most 3u·|x/Δ| (u = 2^-24; y, the product and the division each
  // contribute ≤ u relative), so both round to the same integer n = round(t) unless a half-integer lies that
  // close to t. A lane is redone by the division itself when |t − n| ≥ thr = RN(0.5 − B·2^-20), B = RN(max
  // |x| of the row · y) ≥ |t| (rounding is monotonic): the margin 16u·B ≥ 16u·|t| covers the 3u·|t| plus thr's
  // own rounding (≤ 2^-25) for |t| ≥ 1/26, and below that |t − n| = |t| is nowhere near 0.5. thr ≤ 0 for
  // B ≥ 2^19 (every lane redone), and a non-finite t compares unordered, so it is redone too. (t − n is exact:
  // Sterbenz.) Rare on real data.
  const float y = 1.f / d;
  const float bound = __builtin_fmaxf(__builtin_fabsf(rmin), __builtin_fabsf(rmax)) * y;
  const __m512 vy = _mm512_set1_ps(y);
  const __m512 thr = _mm512_set1_ps(__builtin_fmaf(-bound, 9.5367431640625e-7f, 0.5f));  // 2^-20
  // code = clamp(round + z, 0, q) as the reference: min_ps(q, t) keeps a NaN t (second operand), whose
  // truncation (0x80000000) then saturates to 0 like every negative value, in vpackusdw (64 codes at a
  // time) or in the explicit max below.
  auto code16 = [&](__m512 xv, __mmask16 mk) {
    const __m512 t0 = _mm512_mul_ps(xv, vy);
    __m512 t = _mm512_roundscale_ps(t0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 bad = _mm512_mask_cmp_ps_mask(mk, _mm512_abs_ps(_mm512_sub_ps(t0, t)), thr, _CMP_NLT_UQ);
    if (bad)
      t = _mm512_mask_roundscale_ps(t, bad, _mm512_div_ps(xv, vd), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvttps_epi32(_mm512_min_ps(vq, _mm512_add_ps(t, vz)));
  };
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512i s64 = _mm512_setzero_si512();  // byte sums, 8 per 64-bit lane (vpsadbw)
  int64_t j = 0;
  for (; j + 64 <= k; j += 64) {
    const __mmask16 all = 0xFFFF;
    const __m512i q0 = code16(_mm512_loadu_ps(x + j), all), q1 = code16(_mm512_loadu_ps(x + j + 16), all);
    const __m512i q2 = code16(_mm512_loadu_ps(x + j + 32), all), q3 = code16(_mm512_loadu_ps(x + j + 48), all);
    // per 128-bit lane L: dwords [q0_L, q1_L, q2_L, q3_L] (4 codes each) → natural order by `order`
    const __m512i b = _mm512_packus_epi16(_mm512_packus_epi32(q0, q1), _mm512_packus_epi32(q2, q3));
    const __m512i c = _mm512_permutexvar_epi32(order, b);
    s64 = _mm512_add_epi64(s64, _mm512_sad_epu8(c, _mm512_setzero_si512()));
    _mm512_storeu_si512(codes + j, c);
  }
  __m512i s = _mm512_setzero_si512();
  for (; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    const __m512i q = _mm512_max_epi32(code16(_mm512_maskz_loadu_ps(mk, x + j), mk), _mm512_setzero_si512());
    s = _mm512_add_epi32(s, _mm512_maskz_mov_epi32(mk, q));
    _mm512_mask_cvtepi32_storeu_epi8(codes + j, mk, q);
  }
  if (k_pad > k) std::memset(codes + k, 0, static_cast<size_t>(k_pad - k));
  *delta = d;
  *zero = z;
  *sum = static_cast<int32_t>(_mm512_reduce_add_epi64(s64)) + _mm512_reduce_add_epi32(s);
}

struct Steps : ScalarSteps {
  static constexpr int kMinMaxFloats = kMM;
  static void reset_min_max(float* mm) {
    _mm512_store_ps(mm, _mm512_set1_ps(__builtin_inff()));
    _mm512_store_ps(mm + 16, _mm512_set1_ps(-__builtin_inff()));
  }
  // Tokens per tile: the tile's buffers (two float tiles, the int16 tile, the X rows: ~14·K bytes per token)
  // kept within ~256 KiB, in whole groups of 6, at most kActTile. Each chunk of R is the same matrix for every
  // block, so it stays cached whatever the tile; smaller tiles at large K measured faster (docs/benchmarks.md).
  static int64_t tile(int64_t k) { return max_i64(6, min_i64(kActTile, (256 * 1024) / (14 * k) / 6 * 6)); }
  static void scale_row(const float* x, const float* sc, float* o, int64_t k) {
    for (int64_t j = 0; j < k; j += 16) {
      const __mmask16 mk = tail_mask(k - j);
      __m512 v = _mm512_maskz_loadu_ps(mk, x + j);
      if (sc) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, sc + j));
      _mm512_mask_storeu_ps(o + j, mk, v);
    }
  }
  static void permute_row(const float* src, const int32_t* perm, float* o, int64_t k) {
    for (int64_t j = 0; j < k; j += 16) {
      const __mmask16 mk = tail_mask(k - j);
      const __m512i idx = _mm512_maskz_loadu_epi32(mk, perm + j);
      _mm512_mask_storeu_ps(o + j, mk, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, idx, src, 4));
    }
  }
  static float block_to_i16(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t w, const Rot16& r,
                            int16_t* a16, float* tmp) {
    return block_to_i16_avx512(row, c, sc, idx, w, r, a16, tmp);
  }
  static void rotate_f32(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                         const float* rt, float* mm) {
    block_rotate<F32>({in, ld, out, ld, nullptr, 0, mm, kMM}, in, tokens, k, b, r, rt);
  }
  static void rotate_i16(const int16_t* i16, int64_t ld16, float* out, int64_t ld, const float* mult, int64_t nbt,
                         int64_t tokens, int64_t k, int64_t b, const int32_t* q, const int32_t* qt, float* mm) {
    block_rotate<I16>({i16, ld16, out, ld, mult, nbt, mm, kMM}, out, tokens, k, b, q, qt);
  }
  static void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                           int32_t* zero, int32_t* sum, const float* mm) {
    quantize_row_avx512(x, k, k_pad, bits, clip, codes, delta, zero, sum, mm);
  }
};

}  // namespace
}  // namespace avx512

void act_quant_avx512(const ActQuantArgs& a) { avx512::act_quant_tiles<avx512::Steps>(a); }

}  // namespace duq::kernels::detail
