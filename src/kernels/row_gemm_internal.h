// Private to src/kernels: the per-ISA entry points behind matmul_xwt_rows (gemm_f32.h) (raw pointers only, as in
// int_kernels_internal.h). Each computes y[r][c] for r < m, c < n exactly as gemm_f32.h defines.
#pragma once
#include <cstdint>

namespace duq::kernels::detail {

struct RowGemmArgs {
  const float* x = nullptr;  // [m × k], row stride ldx
  const float* w = nullptr;  // [n × k], row stride ldw
  float* y = nullptr;        // [m × n], row stride ldy
  int64_t m = 0, n = 0, k = 0, ldx = 0, ldw = 0, ldy = 0;
  const uint16_t* wh = nullptr;  // or W as IEEE half (when set, w is unused): widened exactly, lane by lane
};

void row_gemm_ref(const RowGemmArgs& a);
void row_gemm_avx2(const RowGemmArgs& a);
void row_gemm_avx512(const RowGemmArgs& a);

}  // namespace duq::kernels::detail
