// AVX2 per-token activation quantization and the fused transform (act_quant.h). Same structure as the
// AVX-512 file with 8-wide vectors: block rotations as 4 tokens × 16 columns (8 ymm accumulators);
// column and K tails in scalar code with the identical operation sequence (std::fma, float division,
// nearbyint), so results stay bit-identical to ref/.
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

template <int G>
void rot_chunk16(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c, int64_t j0) {
  __m256 acc[G][2];
  {
    const __m256 r0 = _mm256_loadu_ps(r + j0), r1 = _mm256_loadu_ps(r + j0 + 8);
    for (int g = 0; g < G; ++g) {
      const __m256 xb = _mm256_set1_ps(in[g * ld + c]);
      acc[g][0] = _mm256_mul_ps(xb, r0);
      acc[g][1] = _mm256_mul_ps(xb, r1);
    }
  }
  for (int64_t i = 1; i < w; ++i) {
    const float* ri = r + i * w + j0;
    const __m256 r0 = _mm256_loadu_ps(ri), r1 = _mm256_loadu_ps(ri + 8);
    for (int g = 0; g < G; ++g) {
      const __m256 xb = _mm256_set1_ps(in[g * ld + c + i]);
      acc[g][0] = _mm256_fmadd_ps(xb, r0, acc[g][0]);
      acc[g][1] = _mm256_fmadd_ps(xb, r1, acc[g][1]);
    }
  }
  for (int g = 0; g < G; ++g) {
    _mm256_storeu_ps(out + g * ld + c + j0, acc[g][0]);
    _mm256_storeu_ps(out + g * ld + c + j0 + 8, acc[g][1]);
  }
}

template <int G>
void rot_block(const float* in, float* out, int64_t ld, const float* r, int64_t w, int64_t c) {
  int64_t j0 = 0;
  for (; j0 + 16 <= w; j0 += 16) rot_chunk16<G>(in, out, ld, r, w, c, j0);
  for (int64_t j = j0; j < w; ++j)
    for (int g = 0; g < G; ++g) {
      const float* x = in + g * ld + c;
      float acc = x[0] * r[j];
      for (int64_t i = 1; i < w; ++i) acc = std::fma(x[i], r[i * w + j], acc);
      out[g * ld + c + j] = acc;
    }
}

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
  for (int64_t m0 = 0; m0 < a.m; m0 += kActTile) {
    const int64_t tm = a.m - m0 < kActTile ? a.m - m0 : kActTile;
    float* cur = bufa;
    float* oth = bufb;
    for (int64_t g = 0; g < tm; ++g) {
      const float* x = a.x + (m0 + g) * a.ldx;
      float* o = cur + g * ld;
      if (a.inv_scale)
        for (int64_t j = 0; j < a.k; ++j) o[j] = x[j] * a.inv_scale[j];
      else
        std::memcpy(o, x, static_cast<size_t>(a.k) * sizeof(float));
    }
    if (a.r1) {
      block_rotate(cur, oth, ld, tm, a.k, a.block, a.r1, a.r1_tail);
      swap_ptr(cur, oth);
    }
    if (a.perm) {
      for (int64_t g = 0; g < tm; ++g)
        for (int64_t j = 0; j < a.k; ++j) oth[g * ld + j] = cur[g * ld + a.perm[j]];
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
