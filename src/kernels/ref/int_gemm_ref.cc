// Scalar reference integer GEMM: T[m,n] = Σ_k (qx − zx)(q − zw) in int64 straight from the codes, then
// the shared float epilogue y = float(T)·(Δx·Δw). No representation tricks, no blocking.
#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail {

void int_gemm_ref(const GemmArgs& a) {
  for (int64_t n = 0; n < a.n; ++n) {
    for (int64_t m = 0; m < a.m; ++m) {
      const uint8_t* x = a.xq + m * a.k_pad;
      const int64_t zx = a.xz[m], zw = a.wz[n];
      int64_t t = 0;
      for (int64_t k = 0; k < a.k; ++k)
        t += (static_cast<int64_t>(x[k]) - zx) * (static_cast<int64_t>(weight_code(a.wq, a.wbits, a.k_pad, n, k)) - zw);
      a.y[m * a.ldy + n] = static_cast<float>(t) * (a.xs[m] * a.ws[n]);
    }
  }
}

}  // namespace duq::kernels::detail
