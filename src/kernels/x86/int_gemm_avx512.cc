// AVX-512 VNNI integer GEMM/GEMV (vpdpbusd: u8 × s8, 4 products summed into each int32 lane).
// Layouts and the exact-T algebra: int_gemm.h. Everything here has internal linkage except the entry
// point, and touches only raw pointers (see int_kernels_internal.h).
//
// GEMM (M ≥ 2; W4 at M ≤ 8 runs the GEMV kernel on several rows instead, gemm_w4_small): the activation
// codes are first repacked (once per call, thread-local buffer) per K block and 8-row tile as
// [quad][8 rows][4 bytes], so a micro-tile's broadcasts read one contiguous 32-byte row per quad and a pass over all
// tiles is one sequential stream (row-strided reads put all 8 rows of a tile in the same L1 sets). Then for each group
// of up to 3 weight panels (48 outputs) and each K block of up to 4096 columns (192 KiB of the group's int8 weights,
// L2-resident; K ≤ 4096 is a single block) every 8-row activation tile passes over the block: 24 zmm accumulators in
// registers, per k-quad 3 weight loads and 8 4-byte broadcasts, 24 vpdpbusd (two quads per loop iteration). W8 blocks
// are read in place; W4 blocks are unpacked to int8 (q − 8) [quad][16 rows][4] into one of two buffers, the next
// block's slice by slice between the tile calls of the current one. Each tile call also prefetches into L2, spread over
// its k loop, its share of the next block's stored lines (W4: the packed nibbles of the slice unpacked before the next
// tile call; W8: the weights the next block reads in place), so the loads of packed weights rarely wait on memory.
// Partial sums go to an int32 [M × 64] scratch between K blocks (only when K > 4096); the last block converts the tile
// to floats in registers (the shared epilogue, int_gemm_epilogue-inl.h). Extra memory: the thread-local buffer holds
// M·Kp bytes of packed activations (M rounded up to 8) plus 384 KiB of W4 unpack buffers. GEMV (M = 1): streams each
// packed panel once. W4 keeps the nibbles unsigned (v & 0x0F and v & 0xF0, the latter = 16·q, so no shift is needed) as
// the u8 operand and uses the activation codes (minus 128 for A8) as s8, pre-split into even/odd columns per 8-column
// group to match the nibble order. GCC 12 warns inside its own intrinsic headers (_mm512_undefined_* at -O3, GCC bug
// 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/int_kernels_internal.h"
#include "kernels/x86/vec_avx512.h"

#define DUQ_ISA_NS avx512
#include "kernels/int_gemm_epilogue-inl.h"
#undef DUQ_ISA_NS

namespace duq::kernels::detail {
namespace avx512 {
namespace {

constexpr int kMR = 8;  // activation rows per micro-tile
constexpr int kNV = 3;  // 16-row panels per micro-tile

inline __m512i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// noct consecutive octets of a W4 panel, [octet][16][4] nibbles → int8 (q − 8) [2·noct quads][16][4],
// natural column order.
void unpack_w4(const uint8_t* src, int64_t noct, int8_t* dst) {
  const __m512i lo_mask = _mm512_set1_epi8(0x0F);
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t j = 0; j < noct; ++j) {
    const __m512i v = _mm512_loadu_si512(src + j * 64);
    const __m512i ev = _mm512_and_si512(v, lo_mask);                        // q[8j + 2t]
    const __m512i od = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo_mask);  // q[8j + 2t + 1]
    // per 128-bit lane (rows r..r+3, 4 bytes each): interleave → [r:q0-3, r:q4-7, r+1:q0-3, r+1:q4-7]
    const __m512i a = _mm512_shuffle_epi32(_mm512_unpacklo_epi8(ev, od), _MM_PERM_DBCA);  // [r0 r1 | r0' r1']
    const __m512i b = _mm512_shuffle_epi32(_mm512_unpackhi_epi8(ev, od), _MM_PERM_DBCA);  // rows r+2, r+3
    const __m512i q0 = _mm512_sub_epi8(_mm512_unpacklo_epi64(a, b), eight);
    const __m512i q1 = _mm512_sub_epi8(_mm512_unpackhi_epi64(a, b), eight);
    _mm512_store_si512(dst + (2 * j) * 64, q0);
    _mm512_store_si512(dst + (2 * j + 1) * 64, q1);
  }
}

// Activations repacked for the GEMM (once per call, into a thread-local buffer): for each K block (kq0, nk
// quads) and each 8-row tile t, the tile's codes as [nk quads][8 rows][4 bytes] at xp + 32·(kq0·tiles + t·nk).
// A micro-tile's broadcasts then come from one contiguous 32-byte row per quad, and a pass of all tiles over
// a K block reads one sequential stream. Rows past the end of the last tile repeat its last row (never used).
// The same buffer holds the two W4 unpack buffers (see gemm).
struct PackBuf {
  uint8_t* p = nullptr;
  size_t n = 0;
  PackBuf() = default;
  PackBuf(const PackBuf&) = delete;
  PackBuf& operator=(const PackBuf&) = delete;
  ~PackBuf() { std::free(p); }
  uint8_t* get(size_t need) {
    if (need > n) {
      std::free(p);
      n = 0;
      p = static_cast<uint8_t*>(std::aligned_alloc(64, (need + 63) / 64 * 64));
      if (p == nullptr) throw std::bad_alloc();
      n = need;
    }
    return p;
  }
};

// K block: quads per block, a multiple of 16 (so every block but the last is full, and all are whole pairs
// of 16-quad gathers and whole W4 octets). 4096 columns: a group's block is 192 KiB of int8 weights, L2-
// resident while all row tiles pass over it (K ≤ 4096 is one block: no partial sums leave the registers).
constexpr int64_t kKCQ = 1024;
// One cache line → L2. GCC 12 deletes loops that contain nothing but _mm_prefetch (seen in gemm's
// prefetch loops); the asm statement stays.
inline void prefetch_line(const char* p) { __asm__ volatile("prefetcht1 %0" : : "m"(*p)); }

void pack_acts(const GemmArgs& a, int64_t tiles, uint8_t* xp) {
  const int64_t nq = a.k_pad / 4;
  const int32_t qstride = static_cast<int32_t>(nq);  // int32 elements between rows
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t m0 = t * kMR;
    const int r = static_cast<int>(a.m - m0 < kMR ? a.m - m0 : kMR);
    // lane l: row min(l mod 8, r − 1), quad +l/8
    alignas(64) int32_t idx[16];
    for (int l = 0; l < 16; ++l) idx[l] = ((l & 7) < r ? (l & 7) : r - 1) * qstride + (l >> 3);
    const __m512i vidx = _mm512_load_si512(idx);
    const int32_t* x = reinterpret_cast<const int32_t*>(a.xq + m0 * a.k_pad);
    for (int64_t kq0 = 0; kq0 < nq; kq0 += kKCQ) {
      const int64_t nk = nq - kq0 < kKCQ ? nq - kq0 : kKCQ;
      uint8_t* dst = xp + 32 * (kq0 * tiles + t * nk);
      for (int64_t q = 0; q < nk; q += 2)
        _mm512_store_si512(dst + 32 * q, _mm512_i32gather_epi32(vidx, x + kq0 + q, 4));
    }
  }
}

// One micro-tile over nk k-quads: R activation rows (packed, 32 bytes per quad) × V panels (wstride bytes
// apart). Partial sums live in cbuf [R][64] int32 between K blocks; the last block runs the epilogue.
template <int R, int V>
void micro_tile(const GemmArgs& a, const uint8_t* x, const int8_t* w, int64_t wstride, int64_t nk, int32_t* cbuf,
                bool first, bool last, int64_t m0, int64_t p0, const char* pf, int64_t npf) {
  for (int64_t i = 0; i < npf; ++i) prefetch_line(pf + 64 * i);
  __m512i c[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) c[r][v] = first ? _mm512_setzero_si512() : _mm512_load_si512(cbuf + r * 64 + v * 16);
  for (int64_t q = 0; q < nk; ++q) {
    __m512i b[V];
    for (int v = 0; v < V; ++v) b[v] = _mm512_load_si512(w + v * wstride + q * 64);
    for (int r = 0; r < R; ++r) {
      const __m512i xa = bcast4(x + q * 32 + r * 4);
      for (int v = 0; v < V; ++v) c[r][v] = _mm512_dpbusd_epi32(c[r][v], xa, b[v]);
    }
  }
  if (!last) {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) _mm512_store_si512(cbuf + r * 64 + v * 16, c[r][v]);
    return;
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) epilogue<Vec>(a, 0, m0 + r, (p0 + v) * 16, c[r][v]);
}

// The full-width case (3 panels) with named accumulators: GCC 12 keeps an array of 24 zmm accumulators
// in memory (stores every iteration), named variables stay in registers. Rows ≥ R are compiled out.
// nk is even (a multiple of 16): the loop does two quads per iteration.
template <int R>
void micro_tile3(const GemmArgs& a, const uint8_t* x, const int8_t* w, int64_t wstride, int64_t nk, int32_t* cbuf,
                 bool first, bool last, int64_t m0, int64_t p0, const char* pf, int64_t npf) {
  const __m512i z = _mm512_setzero_si512();
#define DUQ_DECL(r) __m512i c##r##0 = z, c##r##1 = z, c##r##2 = z;
  // A run of macro calls: clang-format re-wraps it differently on every pass.
  // clang-format off
  DUQ_DECL(0) DUQ_DECL(1) DUQ_DECL(2) DUQ_DECL(3) DUQ_DECL(4) DUQ_DECL(5) DUQ_DECL(6) DUQ_DECL(7)
  // clang-format on
#undef DUQ_DECL
#define DUQ_LOAD(r)                                  \
  if constexpr (R > r) {                             \
    c##r##0 = _mm512_load_si512(cbuf + r * 64);      \
    c##r##1 = _mm512_load_si512(cbuf + r * 64 + 16); \
    c##r##2 = _mm512_load_si512(cbuf + r * 64 + 32); \
  }
      if (!first) {
    DUQ_LOAD(0) DUQ_LOAD(1) DUQ_LOAD(2) DUQ_LOAD(3) DUQ_LOAD(4) DUQ_LOAD(5) DUQ_LOAD(6) DUQ_LOAD(7)
  }
#undef DUQ_LOAD
  const int8_t* w0 = w;
  const int8_t* const wend = w + nk * 64;
  const int64_t ws2 = 2 * wstride;
#define DUQ_ROW(r, xq)                              \
  if constexpr (R > r) {                            \
    const __m512i xa = bcast4(xq + r * 4);          \
    c##r##0 = _mm512_dpbusd_epi32(c##r##0, xa, b0); \
    c##r##1 = _mm512_dpbusd_epi32(c##r##1, xa, b1); \
    c##r##2 = _mm512_dpbusd_epi32(c##r##2, xa, b2); \
  }
#define DUQ_QUAD(off, xq)                                                                                    \
  {                                                                                                          \
    const __m512i b0 = _mm512_load_si512(w0 + (off));                                                        \
    const __m512i b1 = _mm512_load_si512(w0 + wstride + (off));                                              \
    const __m512i b2 = _mm512_load_si512(w0 + ws2 + (off));                                                  \
    DUQ_ROW(0, xq)                                                                                           \
    DUQ_ROW(1, xq) DUQ_ROW(2, xq) DUQ_ROW(3, xq) DUQ_ROW(4, xq) DUQ_ROW(5, xq) DUQ_ROW(6, xq) DUQ_ROW(7, xq) \
  }
  // npf prefetches spread evenly over the loop, one before every `every` iterations (of two quads)
  const int64_t iters = nk / 2;
  const int64_t every = npf <= 0 ? iters : npf >= iters ? 1 : iters / npf;
  while (w0 != wend) {
    if (npf > 0) {
      prefetch_line(pf);
      pf += 64;
      --npf;
    }
    const int64_t left = (wend - w0) / 128;
    const int8_t* const cend = w0 + 128 * (left < every ? left : every);
    for (; w0 != cend; w0 += 128, x += 64) {
      DUQ_QUAD(0, x)
      DUQ_QUAD(64, (x + 32))
    }
  }
  for (; npf > 0; --npf, pf += 64) prefetch_line(pf);
#undef DUQ_QUAD
#undef DUQ_ROW
#define DUQ_FIN(r)                                        \
  if constexpr (R > r) {                                  \
    if (!last) {                                          \
      _mm512_store_si512(cbuf + r * 64, c##r##0);         \
      _mm512_store_si512(cbuf + r * 64 + 16, c##r##1);    \
      _mm512_store_si512(cbuf + r * 64 + 32, c##r##2);    \
    } else {                                              \
      epilogue<Vec>(a, 0, m0 + r, p0 * 16, c##r##0);      \
      epilogue<Vec>(a, 0, m0 + r, p0 * 16 + 16, c##r##1); \
      epilogue<Vec>(a, 0, m0 + r, p0 * 16 + 32, c##r##2); \
    }                                                     \
  }
  DUQ_FIN(0) DUQ_FIN(1) DUQ_FIN(2) DUQ_FIN(3) DUQ_FIN(4) DUQ_FIN(5) DUQ_FIN(6) DUQ_FIN(7)
#undef DUQ_FIN
}

using TileFn = void (*)(const GemmArgs&, const uint8_t*, const int8_t*, int64_t, int64_t, int32_t*, bool, bool, int64_t,
                        int64_t, const char*, int64_t);

template <int R>
constexpr TileFn tile_for(int v) {
  return v == 1 ? &micro_tile<R, 1> : v == 2 ? &micro_tile<R, 2> : &micro_tile3<R>;
}

TileFn pick_tile(int r, int v) {
  switch (r) {
    case 1: return tile_for<1>(v);
    case 2: return tile_for<2>(v);
    case 3: return tile_for<3>(v);
    case 4: return tile_for<4>(v);
    case 5: return tile_for<5>(v);
    case 6: return tile_for<6>(v);
    case 7: return tile_for<7>(v);
    default: return tile_for<8>(v);
  }
}

// Loop nest (GotoBLAS-like): panel group (48 outputs) → K block of up to kKCQ quads (the group's
// 48 × 4·kKCQ int8 weights stay in L2 while every activation row tile passes over them) → row tiles of 8.
// W8 blocks are read in place. W4 blocks are unpacked into one of two buffers [3 panels][kKCQ quads][64]:
// the first before the loop, each following one in slices, one slice before each tile call of the block
// before it. The stored lines of the next block (W8: its weights; W4: the packed nibbles of the slice
// after the current one) are prefetched into L2 from inside the tile calls, a few per call spread over the
// k loop: issued in one burst they would fill the line-fill buffers and stall on memory latency, which
// is what a plain unpack loop over data in L3/DRAM did (≈ 5 % of the W4 time).
void gemm(const GemmArgs& a) {
  const int64_t panels = a.n_pad / 16, nq = a.k_pad / 4;
  const int64_t pstride = 16 * a.k_pad;  // bytes per W8 panel
  const int64_t tiles = (a.m + kMR - 1) / kMR;
  const int64_t kcq = nq < kKCQ ? nq : kKCQ;
  const int64_t bstride = 64 * kcq;  // bytes per panel in a W4 unpack buffer
  const int64_t xbytes = tiles * kMR * a.k_pad;
  thread_local PackBuf pbuf;
  uint8_t* xp = pbuf.get(static_cast<size_t>(xbytes + (a.wbits == 4 ? 2 * kNV * bstride : 0)));
  pack_acts(a, tiles, xp);
  int8_t* wbuf[2] = {reinterpret_cast<int8_t*>(xp + xbytes), reinterpret_cast<int8_t*>(xp + xbytes + kNV * bstride)};
  int32_t* cbuf = reinterpret_cast<int32_t*>(a.scratch + gemm_acc_offset(a.k_pad));
  // W4 unpack of one block: octet o of the block is octet o mod noct of its panel o / noct
  struct Unpack {
    const uint8_t* src = nullptr;  // the first panel's first octet of the block
    int8_t* dst = nullptr;
    int64_t src_stride = 0, dst_stride = 0;  // bytes between panels
    int64_t noct = 0, total = 0, done = 0;   // octets per panel, in all, unpacked so far
    void run(int64_t upto) {
      if (upto > total) upto = total;
      while (done < upto) {
        const int64_t p = done / noct, j = done % noct;
        const int64_t cnt = noct - j < upto - done ? noct - j : upto - done;
        unpack_w4(src + p * src_stride + j * 64, cnt, dst + p * dst_stride + j * 128);
        done += cnt;
      }
    }
  };
  // Lines of the next block's stored weights, prefetched into L2 ahead of use: n_panels × lpp lines, panels
  // `stride` bytes apart, taken in order.
  struct Lines {
    const char* base = nullptr;
    int64_t lpp = 1, stride = 0, total = 0, pos = 0;
    // the next run of at most n lines within one panel: its start in *at, its length (0 when all taken)
    int64_t take(int64_t n, const char** at) {
      if (pos >= total) return 0;
      const int64_t p = pos / lpp, j = pos % lpp;
      int64_t cnt = lpp - j < total - pos ? lpp - j : total - pos;
      if (cnt > n) cnt = n;
      *at = base + p * stride + j * 64;
      pos += cnt;
      return cnt;
    }
    void burst(int64_t n) {
      const char* at;
      for (int64_t c; n > 0 && (c = take(n, &at)) > 0; n -= c)
        for (int64_t i = 0; i < c; ++i) prefetch_line(at + 64 * i);
    }
  };
  auto unpack_for = [&](int64_t p0, int64_t kq0, int8_t* dst) {
    Unpack u;
    const int64_t v = panels - p0 < kNV ? panels - p0 : kNV;
    const int64_t nk = nq - kq0 < kcq ? nq - kq0 : kcq;
    u.src = a.wq + p0 * (pstride / 2) + kq0 * 32;
    u.src_stride = pstride / 2;
    u.dst = dst;
    u.dst_stride = bstride;
    u.noct = nk / 2;
    u.total = v * u.noct;
    return u;
  };
  int cur = 0;
  Unpack next;
  if (a.wbits == 4) {
    Unpack first = unpack_for(0, 0, wbuf[0]);
    first.run(first.total);
  }
  const int64_t qbytes = a.wbits == 8 ? 64 : 32;  // stored bytes per panel quad
  for (int64_t p0 = 0; p0 < panels; p0 += kNV) {
    const int v = static_cast<int>(panels - p0 < kNV ? panels - p0 : kNV);
    for (int64_t kq0 = 0; kq0 < nq; kq0 += kcq) {
      const int64_t nk = nq - kq0 < kcq ? nq - kq0 : kcq;
      const bool first = kq0 == 0, last = kq0 + nk == nq;
      // the next block: this group's next K block, or the next group's first
      const int64_t pn = last ? p0 + kNV : p0, kn = last ? 0 : kq0 + nk;
      const int64_t vn = pn >= panels ? 0 : panels - pn < kNV ? panels - pn : kNV;
      const int64_t nkn = nq - kn < kcq ? nq - kn : kcq;
      Lines lines;
      lines.base = reinterpret_cast<const char*>(a.wq) + pn * qbytes * nq + kn * qbytes;
      lines.lpp = nkn * qbytes / 64;
      lines.stride = qbytes * nq;
      lines.total = vn * lines.lpp;
      const int64_t step = (lines.total + tiles - 1) / tiles;  // lines (= W4 octets) per tile call
      const int8_t* w;
      int64_t wstride;
      if (a.wbits == 8) {
        w = reinterpret_cast<const int8_t*>(a.wq) + p0 * pstride + kq0 * 64;
        wstride = pstride;
      } else {
        w = wbuf[cur];
        wstride = bstride;
        next = vn > 0 ? unpack_for(pn, kn, wbuf[cur ^ 1]) : Unpack{};
        lines.burst(step);  // the first slice; each tile call prefetches the slice unpacked before the next
      }
      const uint8_t* xb = xp + 32 * kq0 * tiles;
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t m0 = t * kMR;
        const int r = static_cast<int>(a.m - m0 < kMR ? a.m - m0 : kMR);
        if (a.wbits == 4) next.run(next.done + step);
        const char* pf = nullptr;
        const int64_t npf = lines.take(step, &pf);
        if (npf < step) lines.burst(step - npf);
        pick_tile(r, v)(a, xb + 32 * nk * t, w, wstride, nk, cbuf + m0 * 64, first, last, m0, p0, pf, npf);
      }
      if (a.wbits == 4) next.run(next.total);
      cur ^= 1;
    }
  }
}

// W8 GEMV: acc = Σ qx·(q − 128), weights s8 as stored.
void gemv_w8(const GemmArgs& a, int64_t m) {
  const uint8_t* x = a.xq + m * a.k_pad;
  const int64_t nq = a.k_pad / 4, panels = a.n_pad / 16;
  for (int64_t p = 0; p < panels; ++p) {
    const uint8_t* w = a.wq + p * 16 * a.k_pad;
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t q = 0; q < nq; q += 4) {
      c0 = _mm512_dpbusd_epi32(c0, bcast4(x + 4 * q), _mm512_load_si512(w + 64 * q));
      c1 = _mm512_dpbusd_epi32(c1, bcast4(x + 4 * q + 4), _mm512_load_si512(w + 64 * q + 64));
      c2 = _mm512_dpbusd_epi32(c2, bcast4(x + 4 * q + 8), _mm512_load_si512(w + 64 * q + 128));
      c3 = _mm512_dpbusd_epi32(c3, bcast4(x + 4 * q + 12), _mm512_load_si512(w + 64 * q + 192));
    }
    epilogue<Vec>(a, 0, m, p * 16, _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)));
  }
}

// Activation row m as the W4 GEMV's s8 operand: codes minus oa (128 for A8), split per 8-column group into the
// even and odd columns' quads, [Kp/8][even quad, odd quad], to match the nibble order of a packed octet.
void split_w4_acts(const GemmArgs& a, int64_t m, int8_t* xs) {
  const uint8_t* x = a.xq + m * a.k_pad;
  const int oa = a.abits == 8 ? 128 : 0;
  for (int64_t j = 0; j < a.k_pad / 8; ++j)
    for (int t = 0; t < 4; ++t) {
      xs[8 * j + t] = static_cast<int8_t>(x[8 * j + 2 * t] - oa);
      xs[8 * j + 4 + t] = static_cast<int8_t>(x[8 * j + 2 * t + 1] - oa);
    }
}

// W4 GEMV: acc = Σ q·(qx − oa), q the unsigned nibble (u8 operand), activations s8.
void gemv_w4(const GemmArgs& a, int64_t m) {
  int8_t* xs = reinterpret_cast<int8_t*>(a.scratch);  // [Kp/8][even quad, odd quad]
  split_w4_acts(a, m, xs);
  const uint8_t* xb = reinterpret_cast<const uint8_t*>(xs);
  const int64_t noct = a.k_pad / 8, panels = a.n_pad / 16;
  const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (int64_t p = 0; p < panels; ++p) {
    const uint8_t* w = a.wq + p * 8 * a.k_pad;
    __m512i e0 = _mm512_setzero_si512(), e1 = e0, o0 = e0, o1 = e0;
    for (int64_t j = 0; j < noct; j += 2) {
      const __m512i v0 = _mm512_load_si512(w + 64 * j);
      const __m512i v1 = _mm512_load_si512(w + 64 * j + 64);
      e0 = _mm512_dpbusd_epi32(e0, _mm512_and_si512(v0, lo), bcast4(xb + 8 * j));
      o0 = _mm512_dpbusd_epi32(o0, _mm512_and_si512(v0, hi), bcast4(xb + 8 * j + 4));
      e1 = _mm512_dpbusd_epi32(e1, _mm512_and_si512(v1, lo), bcast4(xb + 8 * j + 8));
      o1 = _mm512_dpbusd_epi32(o1, _mm512_and_si512(v1, hi), bcast4(xb + 8 * j + 12));
    }
    // the odd sums were taken on 16·q: exact multiples of 16, so the arithmetic shift is exact
    const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(e0, e1), _mm512_srai_epi32(_mm512_add_epi32(o0, o1), 4));
    epilogue<Vec>(a, 1, m, p * 16, acc);
  }
}

// W4 GEMV's arithmetic on R ≤ 8 activation rows at once (rows m0 … m0+R−1, split at xs + Kp·(row − m0)), over
// one 16-row panel: each packed octet is loaded once for the R rows, and the sums are the GEMV's (e + o/16).
template <int R>
void gemv_w4_rows_panel(const GemmArgs& a, const uint8_t* xs, int64_t m0, int64_t p) {
  const int64_t noct = a.k_pad / 8;
  const __m512i lo = _mm512_set1_epi8(0x0F), hi = _mm512_set1_epi8(static_cast<char>(0xF0));
  const uint8_t* w = a.wq + p * 8 * a.k_pad;
  __m512i e[R], o[R];
  for (int r = 0; r < R; ++r) e[r] = o[r] = _mm512_setzero_si512();
  for (int64_t j = 0; j < noct; ++j) {
    const __m512i v = _mm512_load_si512(w + 64 * j);
    const __m512i vl = _mm512_and_si512(v, lo), vh = _mm512_and_si512(v, hi);
    for (int r = 0; r < R; ++r) {
      e[r] = _mm512_dpbusd_epi32(e[r], vl, bcast4(xs + r * a.k_pad + 8 * j));
      o[r] = _mm512_dpbusd_epi32(o[r], vh, bcast4(xs + r * a.k_pad + 8 * j + 4));
    }
  }
  for (int r = 0; r < R; ++r) epilogue<Vec>(a, 1, m0 + r, p * 16, _mm512_add_epi32(e[r], _mm512_srai_epi32(o[r], 4)));
}

// W4 with few rows (2 ≤ M ≤ kSmallRows): the GEMV's kernel on up to 8 rows at once, panel by panel, instead of
// the GEMM's unpack-then-tile blocking, whose W4 unpacking and prefetch bursts only pay off over many row tiles
// (batched decoding has M = the number of sequences). Each packed panel (16 × Kp/2 bytes) streams from memory
// once. Same exact integer sums and epilogue as every other path. Measured (bench e2e --batch --stages, TinyLlama
// shape, one core): integer GEMM time per step 20–35% lower at M = 2–8 than the GEMM path, equal at M = 16, so
// the GEMM keeps M > 8.
constexpr int64_t kSmallRows = 8;
void gemm_w4_small(const GemmArgs& a) {
  uint8_t* xs = a.scratch;  // [M][Kp] split rows (M·Kp ≤ 8·Kp ≤ the scratch's 64·Kp)
  for (int64_t m = 0; m < a.m; ++m) split_w4_acts(a, m, reinterpret_cast<int8_t*>(xs + m * a.k_pad));
  const int64_t panels = a.n_pad / 16;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t m0 = 0; m0 < a.m; m0 += 8) {
      const uint8_t* x = xs + m0 * a.k_pad;
      switch (a.m - m0 < 8 ? a.m - m0 : 8) {
        case 1: gemv_w4_rows_panel<1>(a, x, m0, p); break;
        case 2: gemv_w4_rows_panel<2>(a, x, m0, p); break;
        case 3: gemv_w4_rows_panel<3>(a, x, m0, p); break;
        case 4: gemv_w4_rows_panel<4>(a, x, m0, p); break;
        case 5: gemv_w4_rows_panel<5>(a, x, m0, p); break;
        case 6: gemv_w4_rows_panel<6>(a, x, m0, p); break;
        case 7: gemv_w4_rows_panel<7>(a, x, m0, p); break;
        default: gemv_w4_rows_panel<8>(a, x, m0, p); break;
      }
    }
}

}  // namespace
}  // namespace avx512

void int_gemm_avx512(const GemmArgs& a) {
  if (a.m == 1) {
    if (a.wbits == 8) avx512::gemv_w8(a, 0);
    else avx512::gemv_w4(a, 0);
    return;
  }
  if (a.wbits == 4 && a.m <= avx512::kSmallRows) {
    avx512::gemm_w4_small(a);
    return;
  }
  avx512::gemm(a);
}

}  // namespace duq::kernels::detail
