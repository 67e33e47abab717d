// AVX2 integer GEMM/GEMV. Same layouts, same exact T and the same float epilogue as the VNNI path
// (int_gemm.h); products via vpmaddubsw (u8 × s8 → int16 pairs) + vpmaddwd(·, 1) → int32.
// vpmaddubsw saturates at ±32767: a pair sum is at most 2·(2^a − 1)·2^(w−1), safe for every combination
// except W8A8 (2·255·128 = 65280). The W8A8 GEMM (M > 1) therefore widens both operands to int16 and uses vpmaddwd
// directly (2 products per lane, no saturation possible): the weight panel is widened once per panel into
// scratch [Kp/2 pairs][16 rows][2 × int16] and reused by all M rows.
// GEMM: per 16-row panel (W4: unpacked to int8 q − 8 in scratch), micro-tiles of 4 rows × 16 outputs, the
// pair sums added in int16 over as many columns as cannot overflow (int16_chunk_quads) before widening.
// GEMV (W4, M ≤ 16: decode and decode batches): streams each packed panel once per 4 rows, nibbles
// unsigned (u8 operand) × activations s8.
// GEMV (M = 1, W8): streams the int8 panel once, the activation codes split into nibbles (no saturation).
// GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/int_kernels_internal.h"
#include "kernels/x86/vec_avx2.h"

#define DUQ_ISA_NS avx2
#include "kernels/int_gemm_epilogue-inl.h"
#undef DUQ_ISA_NS

namespace duq::kernels::detail {
namespace avx2 {
namespace {

constexpr int kMR = 4;

inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// W4 panel → int8 (q − 8) [Kp/4 quads][16][4] (see the AVX-512 file for the shuffle sequence).
void unpack_w4_panel(const uint8_t* src, int64_t k_pad, int8_t* dst) {
  const __m256i lo_mask = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  for (int64_t j = 0; j < k_pad / 8; ++j)
    for (int h = 0; h < 2; ++h) {  // rows 0-7, 8-15
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(src + j * 64 + h * 32));
      const __m256i ev = _mm256_and_si256(v, lo_mask);
      const __m256i od = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo_mask);
      const __m256i a = _mm256_shuffle_epi32(_mm256_unpacklo_epi8(ev, od), 0xD8);
      const __m256i b = _mm256_shuffle_epi32(_mm256_unpackhi_epi8(ev, od), 0xD8);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + (2 * j) * 64 + h * 32),
                         _mm256_sub_epi8(_mm256_unpacklo_epi64(a, b), eight));
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + (2 * j + 1) * 64 + h * 32),
                         _mm256_sub_epi8(_mm256_unpackhi_epi64(a, b), eight));
    }
}

// int8 panel [quads][16][4] → int16 [pairs][16][2]: lanes (rows) in order, columns 2i, 2i+1 per lane.
void widen_w8_panel(const int8_t* src, int64_t k_pad, int16_t* dst) {
  const __m256i perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t q = 0; q < k_pad / 4; ++q)
    for (int h = 0; h < 2; ++h) {  // rows 0-7, 8-15
      const int8_t* s = src + q * 64 + h * 32;
      // rows r..r+3: dwords [r:p0 r:p1 r+1:p0 ...] → [p0 of r..r+3 | p1 of r..r+3]
      const __m256i a =
          _mm256_permutevar8x32_epi32(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s))), perm);
      const __m256i b = _mm256_permutevar8x32_epi32(
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16))), perm);
      int16_t* d0 = dst + (2 * q) * 32 + h * 16;  // pair 2q: columns 4q, 4q+1
      int16_t* d1 = dst + (2 * q + 1) * 32 + h * 16;
      _mm256_store_si256(reinterpret_cast<__m256i*>(d0), _mm256_permute2x128_si256(a, b, 0x20));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d1), _mm256_permute2x128_si256(a, b, 0x31));
    }
}

// How many terms of magnitude ≤ bound an int16 lane can add without leaving ±32767 (at least 1). Every kernel
// here adds its vpmaddubsw results in int16 for that many steps and only then widens (vpmaddwd): once per chunk
// instead of once per step, the same exact integer.
constexpr int64_t int16_sum_count(int64_t bound) { return bound < 32767 ? 32767 / bound : 1; }

// GEMM steps (quads of 4 columns) per int16 chunk: each step adds one pair sum, at most 2·(2^a − 1)·max|q − o|
// (o = 8 for W4, 128 for W8): W4A4 240 a pair, 136 quads; W4A8 / W8A4 8.
int64_t int16_chunk_quads(const GemmArgs& a) {
  return int16_sum_count(2 * ((int64_t{1} << a.abits) - 1) * (a.wbits == 4 ? 8 : 128));
}

template <int R>
void tile_ubs(const GemmArgs& a, const uint8_t* x, const int8_t* w, int64_t m0, int64_t n0, int64_t chunk) {
  __m256i c[R][2];
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t nq = a.k_pad / 4;
  for (int64_t q0 = 0; q0 < nq; q0 += chunk) {
    const int64_t q1 = std::min(nq, q0 + chunk);
    __m256i s[R][2];
    for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm256_setzero_si256();
    for (int64_t q = q0; q < q1; ++q) {
      const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + q * 64));
      const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + q * 64 + 32));
      for (int r = 0; r < R; ++r) {
        const __m256i xa = bcast4(x + r * a.k_pad + q * 4);
        s[r][0] = _mm256_add_epi16(s[r][0], _mm256_maddubs_epi16(xa, w0));
        s[r][1] = _mm256_add_epi16(s[r][1], _mm256_maddubs_epi16(xa, w1));
      }
    }
    for (int r = 0; r < R; ++r) {
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(s[r][0], ones));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(s[r][1], ones));
    }
  }
  for (int r = 0; r < R; ++r) {
    epilogue<Vec>(a, 0, m0 + r, n0, c[r][0]);
    epilogue<Vec>(a, 0, m0 + r, n0 + 8, c[r][1]);
  }
}

template <int R>
void tile_i16(const GemmArgs& a, const uint8_t* x, const int16_t* w, int64_t m0, int64_t n0) {
  __m256i c[R][2];
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
  const int64_t np = a.k_pad / 2;
  for (int64_t i = 0; i < np; ++i) {
    const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + i * 32));
    const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + i * 32 + 16));
    for (int r = 0; r < R; ++r) {
      const uint8_t* xr = x + r * a.k_pad + 2 * i;
      const __m256i xa = _mm256_set1_epi32(static_cast<int32_t>(xr[0]) | (static_cast<int32_t>(xr[1]) << 16));
      c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(xa, w0));
      c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(xa, w1));
    }
  }
  for (int r = 0; r < R; ++r) {
    epilogue<Vec>(a, 0, m0 + r, n0, c[r][0]);
    epilogue<Vec>(a, 0, m0 + r, n0 + 8, c[r][1]);
  }
}

void gemm(const GemmArgs& a) {
  const int64_t panels = a.n_pad / 16;
  const int64_t pstride = 16 * a.k_pad;
  const bool wide16 = a.wbits == 8 && a.abits == 8;
  int8_t* buf8 = reinterpret_cast<int8_t*>(a.scratch);
  int16_t* buf16 = reinterpret_cast<int16_t*>(a.scratch);
  const int64_t chunk = int16_chunk_quads(a);
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* w8 = nullptr;
    if (a.wbits == 4) {
      unpack_w4_panel(a.wq + p * (pstride / 2), a.k_pad, buf8);
      w8 = buf8;
    } else if (!wide16) {
      w8 = reinterpret_cast<const int8_t*>(a.wq) + p * pstride;
    } else {
      widen_w8_panel(reinterpret_cast<const int8_t*>(a.wq) + p * pstride, a.k_pad, buf16);
    }
    for (int64_t m0 = 0; m0 < a.m; m0 += kMR) {
      const int r = static_cast<int>(a.m - m0 < kMR ? a.m - m0 : kMR);
      const uint8_t* x = a.xq + m0 * a.k_pad;
      if (w8) {
        switch (r) {
          case 1: tile_ubs<1>(a, x, w8, m0, p * 16, chunk); break;
          case 2: tile_ubs<2>(a, x, w8, m0, p * 16, chunk); break;
          case 3: tile_ubs<3>(a, x, w8, m0, p * 16, chunk); break;
          default: tile_ubs<4>(a, x, w8, m0, p * 16, chunk); break;
        }
      } else {
        switch (r) {
          case 1: tile_i16<1>(a, x, buf16, m0, p * 16); break;
          case 2: tile_i16<2>(a, x, buf16, m0, p * 16); break;
          case 3: tile_i16<3>(a, x, buf16, m0, p * 16); break;
          default: tile_i16<4>(a, x, buf16, m0, p * 16); break;
        }
      }
    }
  }
}

// W4 GEMV kernel on R ≤ 4 activation rows at once (M = 1 decode, and batched decode steps of up to
// kSmallRows sequences, where unpacking every panel costs more than the tiles gain):
// acc = Σ q·(qx − oa) (kind 1), each packed panel streamed once per R rows, its nibbles (unsigned, the u8
// operand) split once and shared by the rows. The two vpmaddubsw of an octet add at most 2·2·15·max|qx − oa|
// per int16 lane, so octets are summed in int16 over as many as cannot overflow, then widened.
void shift_w4_acts(const GemmArgs& a, int64_t m, int8_t* xs) {  // x − oa, each octet as (evens, odds)
  const uint8_t* x = a.xq + m * a.k_pad;
  const int oa = a.abits == 8 ? 128 : 0;
  for (int64_t j = 0; j < a.k_pad / 8; ++j)
    for (int t = 0; t < 4; ++t) {
      xs[8 * j + t] = static_cast<int8_t>(x[8 * j + 2 * t] - oa);
      xs[8 * j + 4 + t] = static_cast<int8_t>(x[8 * j + 2 * t + 1] - oa);
    }
}

template <int R>
void gemv_w4_rows(const GemmArgs& a, int64_t m0, const int8_t* xs) {
  const int64_t xmax = a.abits == 8 ? 128 : (int64_t{1} << a.abits) - 1;
  const int64_t chunk = int16_sum_count(2 * 2 * 15 * xmax);  // octets: two pairs each
  const uint8_t* xb = reinterpret_cast<const uint8_t*>(xs);
  const int64_t noct = a.k_pad / 8, panels = a.n_pad / 16;
  const __m256i lo = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int64_t p = 0; p < panels; ++p) {
    const uint8_t* w = a.wq + p * 8 * a.k_pad;
    __m256i c[R][2];
    for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
    for (int64_t j0 = 0; j0 < noct; j0 += chunk) {
      const int64_t j1 = std::min(noct, j0 + chunk);
      __m256i s[R][2];
      for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm256_setzero_si256();
      for (int64_t j = j0; j < j1; ++j) {
        const __m256i v0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 64 * j));
        const __m256i v1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 64 * j + 32));
        const __m256i v0l = _mm256_and_si256(v0, lo), v0h = _mm256_and_si256(_mm256_srli_epi16(v0, 4), lo);
        const __m256i v1l = _mm256_and_si256(v1, lo), v1h = _mm256_and_si256(_mm256_srli_epi16(v1, 4), lo);
        for (int r = 0; r < R; ++r) {
          const __m256i xe = bcast4(xb + r * a.k_pad + 8 * j), xo = bcast4(xb + r * a.k_pad + 8 * j + 4);
          s[r][0] =
              _mm256_add_epi16(s[r][0], _mm256_add_epi16(_mm256_maddubs_epi16(v0l, xe), _mm256_maddubs_epi16(v0h, xo)));
          s[r][1] =
              _mm256_add_epi16(s[r][1], _mm256_add_epi16(_mm256_maddubs_epi16(v1l, xe), _mm256_maddubs_epi16(v1h, xo)));
        }
      }
      for (int r = 0; r < R; ++r) {
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(s[r][0], ones));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(s[r][1], ones));
      }
    }
    for (int r = 0; r < R; ++r) {
      epilogue<Vec>(a, 1, m0 + r, p * 16, c[r][0]);
      epilogue<Vec>(a, 1, m0 + r, p * 16 + 8, c[r][1]);
    }
  }
}

// W4 with M ≤ kSmallRows: the GEMV kernel in passes of up to 4 rows. Measured on a Zen 3 core (11008 × 4096):
// M = 2 / 4 / 8 / 16 take 1.0 / 1.5 / 3.0 / 6.2 ms against 2.0 / 2.6 / 4.2 / 6.9 unpacked and tiled; equal at 32.
constexpr int64_t kSmallRows = 16;
void gemm_w4_small(const GemmArgs& a) {
  int8_t* xs = reinterpret_cast<int8_t*>(a.scratch);
  for (int64_t m = 0; m < a.m; ++m) shift_w4_acts(a, m, xs + m * a.k_pad);
  for (int64_t m0 = 0; m0 < a.m; m0 += 4) {
    const int8_t* x = xs + m0 * a.k_pad;
    switch (std::min<int64_t>(4, a.m - m0)) {
      case 1: gemv_w4_rows<1>(a, m0, x); break;
      case 2: gemv_w4_rows<2>(a, m0, x); break;
      case 3: gemv_w4_rows<3>(a, m0, x); break;
      default: gemv_w4_rows<4>(a, m0, x); break;
    }
  }
}

// W8 GEMV: acc = Σ qx·(q − 128) as in the GEMM (kind 0), but streaming the int8 panel once with no widening
// pass. vpmaddubsw of a full 8-bit activation with q − 128 could saturate (2·255·128 > 32767), so the codes are
// split into nibbles, qx = 16·hi + lo: each nibble's pair sums are at most 2·15·128 = 3840, added in int16 for 8
// quads (≤ 30720), then widened with weights 1 (lo) and 16 (hi). Activations of ≤ 4 bits have no high nibble.
template <bool Split>
void gemv_w8_of(const GemmArgs& a, int64_t m) {
  const uint8_t* x = a.xq + m * a.k_pad;
  uint8_t* lo = a.scratch;
  uint8_t* hi = a.scratch + a.k_pad;
  for (int64_t k = 0; k < a.k_pad; ++k) {
    lo[k] = x[k] & 0x0F;
    hi[k] = static_cast<uint8_t>(x[k] >> 4);
  }
  constexpr int64_t kChunk = int16_sum_count(2 * 15 * 128);  // 8 quads
  const int64_t nq = a.k_pad / 4, panels = a.n_pad / 16;
  const __m256i ones = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* w = reinterpret_cast<const int8_t*>(a.wq) + p * 16 * a.k_pad;
    __m256i c0 = _mm256_setzero_si256(), c1 = c0;
    for (int64_t q0 = 0; q0 < nq; q0 += kChunk) {
      const int64_t q1 = std::min(nq, q0 + kChunk);
      __m256i l0 = _mm256_setzero_si256(), l1 = l0, h0 = l0, h1 = l0;
      for (int64_t q = q0; q < q1; ++q) {
        const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + q * 64));
        const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + q * 64 + 32));
        const __m256i xl = bcast4(lo + 4 * q);
        l0 = _mm256_add_epi16(l0, _mm256_maddubs_epi16(xl, w0));
        l1 = _mm256_add_epi16(l1, _mm256_maddubs_epi16(xl, w1));
        if constexpr (Split) {
          const __m256i xh = bcast4(hi + 4 * q);
          h0 = _mm256_add_epi16(h0, _mm256_maddubs_epi16(xh, w0));
          h1 = _mm256_add_epi16(h1, _mm256_maddubs_epi16(xh, w1));
        }
      }
      c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(l0, ones));
      c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(l1, ones));
      if constexpr (Split) {
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(h0, sixteen));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(h1, sixteen));
      }
    }
    epilogue<Vec>(a, 0, m, p * 16, c0);
    epilogue<Vec>(a, 0, m, p * 16 + 8, c1);
  }
}

void gemv_w8(const GemmArgs& a, int64_t m) {
  if (a.abits > 4) gemv_w8_of<true>(a, m);
  else gemv_w8_of<false>(a, m);
}

}  // namespace
}  // namespace avx2

void int_gemm_avx2(const GemmArgs& a) {
  if (a.m == 1 && a.wbits == 8) {
    avx2::gemv_w8(a, 0);
    return;
  }
  if (a.wbits == 4 && a.m <= avx2::kSmallRows) {
    avx2::gemm_w4_small(a);
    return;
  }
  avx2::gemm(a);
}

}  // namespace duq::kernels::detail
