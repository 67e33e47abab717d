// Scalar reference of the row-invariant fp32 product (matmul_xwt_rows, gemm_f32.h): the 16 lanes and the reduction tree
// spelled out one element at a time.
#include <cmath>

#include "core/half.h"
#include "kernels/row_gemm_internal.h"

namespace duq::kernels::detail {

void row_gemm_ref(const RowGemmArgs& a) {
  for (int64_t r = 0; r < a.m; ++r)
    for (int64_t c = 0; c < a.n; ++c) {
      const float* x = a.x + r * a.ldx;
      auto w = [&](int64_t k) { return a.wh ? f16_to_f32(a.wh[c * a.ldw + k]) : a.w[c * a.ldw + k]; };
      float acc[16] = {};
      for (int64_t k0 = 0; k0 < a.k; k0 += 16)
        for (int64_t j = 0; j < 16; ++j) {
          const int64_t k = k0 + j;
          acc[j] = std::fma(k < a.k ? x[k] : 0.f, k < a.k ? w(k) : 0.f, acc[j]);
        }
      for (int64_t s = 8; s >= 1; s /= 2)
        for (int64_t j = 0; j < s; ++j) acc[j] += acc[j + s];
      a.y[r * a.ldy + c] = acc[0];
    }
}

}  // namespace duq::kernels::detail
