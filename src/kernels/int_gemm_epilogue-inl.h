// The float epilogue of the integer GEMM/GEMV kernels, written once over a vector trait (x86/vec_*.h) and
// compiled per ISA: each x86/int_gemm_<isa>.cc defines DUQ_ISA_NS and includes this file, which puts it in
// duq::kernels::detail::DUQ_ISA_NS (no inline code shared between ISAs, see act_quant-inl.h).
#ifndef DUQ_ISA_NS
#error "define DUQ_ISA_NS (the ISA's namespace) before including kernels/int_gemm_epilogue-inl.h"
#endif
#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail::DUQ_ISA_NS {

// y[m, n0 .. n0 + Vec::kLanes) ∩ [0, n) from the int32 dot products acc (kind and the exact T: see
// int_kernels_internal.h), y = float(T)·(Δx·Δw); T in wrapping int32, or in int64 (epilogue_wide) when a.wide.
template <class Vec>
inline void epilogue(const GemmArgs& a, int kind, int64_t m, int64_t n0, typename Vec::I acc) {
  using I = typename Vec::I;
  const int64_t cnt = a.n - n0 < Vec::kLanes ? a.n - n0 : Vec::kLanes;
  if (cnt <= 0) return;
  if (a.wide) {
    alignas(64) int32_t tmp[Vec::kLanes];
    Vec::store(tmp, acc);
    epilogue_wide(a, kind, m, n0, cnt, tmp);
    return;
  }
  const I zw = Vec::loadu(a.wz + n0);
  const I corr = Vec::loadu(a.wcorr + n0);
  const I sx = Vec::set1(a.xsum[m]);
  const I zx = Vec::set1(a.xz[m]);
  I t;
  if (kind == 0) {
    const I ew = Vec::sub(Vec::set1(int32_t{a.wbits == 8 ? 128 : 8}), zw);
    t = Vec::add(acc, Vec::mullo(ew, sx));
  } else {
    t = acc;
    if (a.abits == 8) t = Vec::add(t, Vec::mullo(Vec::set1(int32_t{128}), Vec::loadu(a.wsum + n0)));
    t = Vec::sub(t, Vec::mullo(zw, sx));
  }
  t = Vec::sub(t, Vec::mullo(zx, corr));
  const typename Vec::F s = Vec::mul(Vec::set1(a.xs[m]), Vec::loadu(a.ws + n0));
  Vec::storeu_first(a.y + m * a.ldy + n0, Vec::mul(Vec::to_float(t), s), cnt);
}

}  // namespace duq::kernels::detail::DUQ_ISA_NS
