#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#define DUQ_X86 1
#include <cpuid.h>
#endif

#include <cstdlib>
#include <cstring>
#include <optional>

namespace duq::kernels {

#if !DUQ_X86
static CpuFeatures detect() { return {}; }  // no SIMD path outside x86 yet: every kernel takes the scalar one
#else
static CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & bit_OSXSAVE;
  f.fma = c & bit_FMA;
  f.f16c = c & bit_F16C;
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = ymm_os && (b & bit_AVX2);
    f.avx512f = zmm_os && (b & bit_AVX512F);
    f.avx512bw = zmm_os && (b & bit_AVX512BW);
    f.avx512vl = zmm_os && (b & bit_AVX512VL);
    f.avx512dq = zmm_os && (b & bit_AVX512DQ);
    f.avx512vnni = zmm_os && (c & bit_AVX512VNNI);
  }
  f.fma = f.fma && ymm_os;
  f.f16c = f.f16c && ymm_os;
  return f;
}
#endif

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_supported(Isa isa) {
  const auto& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.avx2 && f.fma && f.f16c;
    case Isa::Avx512Vnni:
      return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx2 && f.fma && f.f16c;
  }
  return false;
}

static Isa best_isa() {
  Isa best = Isa::Scalar;
  if (isa_supported(Isa::Avx2)) best = Isa::Avx2;
  if (isa_supported(Isa::Avx512Vnni)) best = Isa::Avx512Vnni;
  if (const char* env = std::getenv("DUQUANT_ISA")) {
    Isa want = best;
    if (!std::strcmp(env, "scalar")) want = Isa::Scalar;
    else if (!std::strcmp(env, "avx2")) want = Isa::Avx2;
    else if (!std::strcmp(env, "avx512")) want = Isa::Avx512Vnni;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

static std::optional<Isa>& override_slot() {
  static std::optional<Isa> o;
  return o;
}

Isa active_isa() {
  static const Isa best = best_isa();
  if (auto& o = override_slot(); o && static_cast<int>(*o) <= static_cast<int>(best)) return *o;
  return best;
}

void set_isa_override(Isa isa) { override_slot() = isa; }
void clear_isa_override() { override_slot().reset(); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512Vnni: return "avx512-vnni";
  }
  return "?";
}

}  // namespace duq::kernels
