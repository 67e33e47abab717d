// AVX2 per-token activation quantization and the fused transform (act_quant.h). Same structure as the
// AVX-512 file with 8-wide vectors: block rotations (fp32 or int16 pairs) as 4 tokens × 16 columns (8 ymm
// accumulators); column and K tails in scalar code with the identical arithmetic (std::fma or int32 sums,
// float division, nearbyint), so results stay bit-identical to ref/.
// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail {
namespace {

inline void swap_ptr(float*& a, float*& b) {
  float* t = a;
  a = b;
  b = t;
}

// The two kinds of rotation arithmetic (see x86/act_quant_avx512.cc): F32, the exact product-then-fma chain;
// I16, int16 pairs through vpmaddwd + vpaddd (exact int32 sums). scalar: one output column in plain code with
// the identical arithmetic (column tails).
struct F32 {
  using In = float;
  using R = float;
  using V = __m256;
  static int64_t rows(int64_t w) { return w; }
  static V bcast(const float* x, int64_t i) { return _mm256_set1_ps(x[i]); }
  static V load(const float* r) { return _mm256_loadu_ps(r); }
  static V first(V xb, V r) { return _mm256_mul_ps(xb, r); }
  static V step(V acc, V xb, V r) { return _mm256_fmadd_ps(xb, r, acc); }
  static __m256 out(V acc, float) { return acc; }
  static float scalar(const float* x, const float* r, int64_t w, int64_t j, float) {
    float acc = x[0] * r[j];
    for (int64_t i = 1; i < w; ++i) acc = std::fma(x[i], r[i * w + j], acc);
    return acc;
  }
};
struct I16 {
  using In = int16_t;
  using R = int32_t;
  using V = __m256i;
  static int64_t rows(int64_t w) { return (w + 1) / 2; }
  static V bcast(const int16_t* x, int64_t p) {
    int32_t v;
    std::memcpy(&v, x + 2 * p, sizeof v);
    return _mm256_set1_epi32(v);
  }
  static V load(const int32_t* r) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r)); }
  static V first(V xb, V r) { return _mm256_madd_epi16(xb, r); }
  static V step(V acc, V xb, V r) { return _mm256_add_epi32(acc, _mm256_madd_epi16(xb, r)); }
  static __m256 out(V acc, float mult) { return _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(mult)); }
  static float scalar(const int16_t* x, const int32_t* r, int64_t w, int64_t j, float mult) {
    const int16_t* q = reinterpret_cast<const int16_t*>(r);
    int32_t acc = 0;
    for (int64_t i = 0; i < w; ++i) acc += int32_t{x[i]} * q[i / 2 * 2 * w + 2 * j + (i & 1)];
    return static_cast<float>(acc) * mult;
  }
};

// Tokens g < G of a tile: input rows ldi apart, float output rows ldo apart, mult[g·lmu] the I16 multiplier
// of token g in the current block (null for F32).
template <class Op>
struct RotIo {
  const typename Op::In* in;
  int64_t ldi;
  float* out;
  int64_t ldo;
  const float* mult;
  int64_t lmu;
  float mu(int64_t g) const { return mult ? mult[g * lmu] : 0.f; }
};

template <class Op, int G>
void rot_chunk16(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c, int64_t j0) {
  using V = typename Op::V;
  V acc[G][2];
  {
    const V r0 = Op::load(r + j0), r1 = Op::load(r + j0 + 8);
    for (int g = 0; g < G; ++g) {
      const V xb = Op::bcast(io.in + g * io.ldi + c, 0);
      acc[g][0] = Op::first(xb, r0);
      acc[g][1] = Op::first(xb, r1);
    }
  }
  const int64_t n = Op::rows(w);
  for (int64_t i = 1; i < n; ++i) {
    const typename Op::R* ri = r + i * w + j0;
    const V r0 = Op::load(ri), r1 = Op::load(ri + 8);
    for (int g = 0; g < G; ++g) {
      const V xb = Op::bcast(io.in + g * io.ldi + c, i);
      acc[g][0] = Op::step(acc[g][0], xb, r0);
      acc[g][1] = Op::step(acc[g][1], xb, r1);
    }
  }
  for (int g = 0; g < G; ++g) {
    _mm256_storeu_ps(io.out + g * io.ldo + c + j0, Op::out(acc[g][0], io.mu(g)));
    _mm256_storeu_ps(io.out + g * io.ldo + c + j0 + 8, Op::out(acc[g][1], io.mu(g)));
  }
}

template <class Op, int G>
void rot_block(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c) {
  int64_t j0 = 0;
  for (; j0 + 16 <= w; j0 += 16) rot_chunk16<Op, G>(io, r, w, c, j0);
  for (int64_t j = j0; j < w; ++j)
    for (int g = 0; g < G; ++g) io.out[g * io.ldo + c + j] = Op::scalar(io.in + g * io.ldi + c, r, w, j, io.mu(g));
}

// out = in · blockdiag(R, …, R, Rt), 4 tokens at a time; a tail without matrix is copied from the float rows
// fin (io.ldo apart; fin = io.out: already in place).
template <class Op>
void block_rotate(const RotIo<Op>& io, const float* fin, int64_t tokens, int64_t k, int64_t b,
                  const typename Op::R* r, const typename Op::R* rt) {
  const int64_t nb = k / b, t = k - nb * b;
  for (int64_t g0 = 0; g0 < tokens; g0 += 4) {
    const int64_t gn = tokens - g0 < 4 ? tokens - g0 : 4;
    auto blk = [&](const typename Op::R* m, int64_t w, int64_t c) {
      const RotIo<Op> i0{io.in + g0 * io.ldi, io.ldi, io.out + g0 * io.ldo, io.ldo,
                         io.mult ? io.mult + g0 * io.lmu + c / b : nullptr, io.lmu};
      switch (gn) {
        case 1: rot_block<Op, 1>(i0, m, w, c); break;
        case 2: rot_block<Op, 2>(i0, m, w, c); break;
        case 3: rot_block<Op, 3>(i0, m, w, c); break;
        default: rot_block<Op, 4>(i0, m, w, c); break;
      }
    };
    for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
    if (t > 0) {
      if (rt) blk(rt, t, nb * b);
      else
        for (int64_t g = g0; g < g0 + gn; ++g)
          if (fin != io.out) std::memcpy(io.out + g * io.ldo + nb * b, fin + g * io.ldo + nb * b, static_cast<size_t>(t) * sizeof(float));
    }
  }
}

// a16 [w + 1] (the pad 0 last) of one block of a row; returns the block's output multiplier
// (rot16_row_scales). Inputs a_j = row[idx ? idx[j] : c + j]·(sc ? sc[j] : 1) (Λ⁻¹ or P fused in; idx and sc
// offset to the block): read once into tmp [w] when fused.
float block_to_i16(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t k, const Rot16& r,
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
    float v = std::nearbyint(a[j] * inv);
    v = v > -lim ? v : -lim;
    v = v < lim ? v : lim;
    a16[j] = static_cast<int16_t>(v);
  }
  a16[k] = 0;
  return mult;
}

// One rotation step on a tile of tokens ld apart: in → out, in float or integer arithmetic (i16: the int16
// tile, mult: [tokens × ⌈K/b⌉] block multipliers, tmp: block_to_i16's). An integer step reads its input from
// the fused source fs instead of in (a tail without matrix is written to out directly).
void rotate_step(const float* in, float* out, int64_t ld, int64_t tokens, const ActQuantArgs& a, const float* r,
                 const float* rt, const Rot16& ri, const FusedIn& fs, int16_t* i16, float* mult, float* tmp) {
  if (ri.q) {
    const int64_t ld16 = act_i16_ld(a.k), nbt = (a.k + a.block - 1) / a.block;
    const int64_t nq = ri.q_tail ? nbt : a.k / a.block;
    for (int64_t g = 0; g < tokens; ++g) {
      const float* row = fs.src + g * fs.ld;
      for (int64_t bi = 0, c = 0; bi < nq; ++bi, c += a.block)  // in order: each pad is the next block's first
        mult[g * nbt + bi] = block_to_i16(row, c, fs.sc ? fs.sc + c : nullptr, fs.idx ? fs.idx + c : nullptr,
                                          a.k - c < a.block ? a.k - c : a.block, ri, i16 + g * ld16 + c, tmp);
      for (int64_t j = nq * a.block; j < a.k; ++j) out[g * ld + j] = fs.at(row, j);  // tail without matrix
    }
    block_rotate<I16>({i16, ld16, out, ld, mult, nbt}, out, tokens, a.k, a.block, ri.q, ri.q_tail);
  } else {
    block_rotate<F32>({in, ld, out, ld, nullptr, 0}, in, tokens, a.k, a.block, r, rt);
  }
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

void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
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
    const __m256i p16 = _mm256_packus_epi32(q, q);                      // per lane: q0..3 q0..3 | q4..7 q4..7
    const __m256i p8 = _mm256_packus_epi16(p16, p16);                   // bytes
    const __m256i pk = _mm256_permutevar8x32_epi32(p8, pack_idx);       // dword 0 = lane0, dword 1 = lane1
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + j), _mm256_castsi256_si128(pk));
  }
  alignas(32) int32_t st[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(st), s);
  int32_t total = st[0] + st[1] + st[2] + st[3] + st[4] + st[5] + st[6] + st[7];
  for (; j < k; ++j) {
    float v = std::nearbyint(x[j] / d) + zf;
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

}  // namespace

void act_quant_avx2(const ActQuantArgs& a) {
  if (!a.transform) {
    for (int64_t m = 0; m < a.m; ++m)
      quantize_row(a.x + m * a.ldx, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                   a.sum + m);
    return;
  }
  const int64_t ld = (a.k + 15) / 16 * 16 + 16;  // +16: rows not 4 KiB-aliased in L1
  float* bufa = a.scratch;
  float* bufb = a.scratch + kActTile * ld;
  int16_t* i16 = reinterpret_cast<int16_t*>(a.scratch + 2 * kActTile * ld);
  float* mult = a.scratch + 3 * kActTile * ld;
  float* tmp = mult + (kActTile * a.k + 15) / 16 * 16;
  // Λ⁻¹ fused into an integer R1's int16 conversion, P into an integer R2's (no separate pass over the tile)
  const bool fuse1 = a.r1 && a.r1i.q, fuse2 = a.r2 && a.r2i.q && a.perm;
  for (int64_t m0 = 0; m0 < a.m; m0 += kActTile) {
    const int64_t tm = a.m - m0 < kActTile ? a.m - m0 : kActTile;
    float* cur = bufa;
    float* oth = bufb;
    if (!fuse1)
      for (int64_t g = 0; g < tm; ++g) {
        const float* x = a.x + (m0 + g) * a.ldx;
        float* o = cur + g * ld;
        if (a.inv_scale)
          for (int64_t j = 0; j < a.k; ++j) o[j] = x[j] * a.inv_scale[j];
        else
          std::memcpy(o, x, static_cast<size_t>(a.k) * sizeof(float));
      }
    if (a.r1) {
      const FusedIn fs = fuse1 ? FusedIn{a.x + m0 * a.ldx, a.ldx, a.inv_scale, nullptr} : FusedIn{cur, ld, nullptr, nullptr};
      rotate_step(cur, oth, ld, tm, a, a.r1, a.r1_tail, a.r1i, fs, i16, mult, tmp);
      swap_ptr(cur, oth);
    }
    if (a.perm && !fuse2) {
      for (int64_t g = 0; g < tm; ++g)
        for (int64_t j = 0; j < a.k; ++j) oth[g * ld + j] = cur[g * ld + a.perm[j]];
      swap_ptr(cur, oth);
    }
    if (a.r2) {
      rotate_step(cur, oth, ld, tm, a, a.r2, a.r2_tail, a.r2i, FusedIn{cur, ld, nullptr, fuse2 ? a.perm : nullptr}, i16,
                  mult, tmp);
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
