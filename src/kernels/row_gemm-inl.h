// Shared driver of the row-invariant fp32 product (matmul_xwt_rows, gemm_f32.h), compiled once per ISA by
// x86/row_gemm_*.cc inside namespace DUQ_ISA_NS with a trait L whose register V holds 16 / L::kPasses of the
// 16 lanes: the K loop runs L::kPasses times, pass p computing lanes [p·16/kPasses, (p+1)·16/kPasses) of every
// accumulator (AVX-512: one pass of 16; AVX2: two of 8, so a tile's accumulators take one register each).
//   L::zero(), L::load(p), L::load_first(p, cnt) (lanes ≥ cnt read as 0, cnt may be ≤ 0), L::fma(x, w, acc)
//   L::load_h(p), L::load_h_first(p, cnt)   IEEE halves widened to floats (W stored as F16: a.wh)
//   L::fold(parts)            lanes j and j + 8 added (the tree's first level) from the passes' registers, as
//                             one __m256
//   L::kRows × L::kCols       the micro-tile: rows of X × rows of W (outputs) sharing each loaded block
// Every output gets its own accumulator lanes and the same operations in the same order whatever tile (or pass
// split) it falls in, so the tiling (and M) never changes a bit.
#include <immintrin.h>

#include <algorithm>

#include "kernels/row_gemm_internal.h"

namespace duq::kernels::detail::DUQ_ISA_NS {
namespace {

// The rest of the tree: lanes j + j+4, then j + j+2, then 0 + 1.
inline float sum8(__m256 a8) {
  const __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(a8), _mm256_extractf128_ps(a8, 1));
  const __m128 a2 = _mm_add_ps(a4, _mm_movehl_ps(a4, a4));
  return _mm_cvtss_f32(_mm_add_ss(a2, _mm_movehdup_ps(a2)));
}

// Half: W is a.wh (F16), widened lane by lane on load; the arithmetic is the same as on the widened matrix.
template <class L, bool Half, int RT, int CT>
void row_tile(const RowGemmArgs& a, int64_t r0, int64_t c0) {
  constexpr int P = L::kPasses, kLanes = 16 / P;
  typename L::V part[RT][CT][P];
  for (int pass = 0; pass < P; ++pass) {
    const int64_t off = pass * kLanes;
    typename L::V acc[RT][CT];
    for (auto& row : acc)
      for (auto& v : row) v = L::zero();
    auto step = [&](auto load, auto load_w) {
      typename L::V wv[CT];
      for (int j = 0; j < CT; ++j) wv[j] = load_w(c0 + j);
      for (int i = 0; i < RT; ++i) {
        const typename L::V xv = load(a.x + (r0 + i) * a.ldx);
        for (int j = 0; j < CT; ++j) acc[i][j] = L::fma(xv, wv[j], acc[i][j]);
      }
    };
    int64_t k = 0;
    for (; k + 16 <= a.k; k += 16)
      step([k, off](const float* p) { return L::load(p + k + off); },
           [&a, k, off](int64_t c) {
             if constexpr (Half) return L::load_h(a.wh + c * a.ldw + k + off);
             else return L::load(a.w + c * a.ldw + k + off);
           });
    if (k < a.k) {
      const int64_t cnt = a.k - k - off;  // this pass's lanes that exist (≤ 0: none)
      step([k, off, cnt](const float* p) { return L::load_first(p + k + off, cnt); },
           [&a, k, off, cnt](int64_t c) {
             if constexpr (Half) return L::load_h_first(a.wh + c * a.ldw + k + off, cnt);
             else return L::load_first(a.w + c * a.ldw + k + off, cnt);
           });
    }
    for (int i = 0; i < RT; ++i)
      for (int j = 0; j < CT; ++j) part[i][j][pass] = acc[i][j];
  }
  for (int i = 0; i < RT; ++i)
    for (int j = 0; j < CT; ++j) a.y[(r0 + i) * a.ldy + c0 + j] = sum8(L::fold(part[i][j]));
}

// row_tile<L, rt, ct> for a tile of rt ≤ RT rows and ct ≤ CT outputs.
template <class L, bool Half, int RT, int CT>
void row_tile_upto(const RowGemmArgs& a, int64_t r0, int64_t c0, int64_t rt, int64_t ct) {
  if constexpr (RT > 1)
    if (rt < RT) return row_tile_upto<L, Half, RT - 1, CT>(a, r0, c0, rt, ct);
  if constexpr (CT > 1)
    if (ct < CT) return row_tile_upto<L, Half, RT, CT - 1>(a, r0, c0, rt, ct);
  row_tile<L, Half, RT, CT>(a, r0, c0);
}

// Output tiles outer, row tiles inner: a tile's W rows stay in cache while every row of X passes.
template <class L, bool Half>
void row_gemm_of(const RowGemmArgs& a) {
  for (int64_t c0 = 0; c0 < a.n; c0 += L::kCols)
    for (int64_t r0 = 0; r0 < a.m; r0 += L::kRows)
      row_tile_upto<L, Half, L::kRows, L::kCols>(a, r0, c0, std::min<int64_t>(L::kRows, a.m - r0),
                                                 std::min<int64_t>(L::kCols, a.n - c0));
}

template <class L>
void row_gemm(const RowGemmArgs& a) {
  if (a.wh) row_gemm_of<L, true>(a);
  else row_gemm_of<L, false>(a);
}

}  // namespace
}  // namespace duq::kernels::detail::DUQ_ISA_NS
