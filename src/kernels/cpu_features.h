// Run-time CPU feature detection: the one place that decides which ISA path a kernel takes.
// DUQUANT_ISA=scalar|avx2|avx512 forces a lower path (tests and benchmarks use it); a path the CPU
// lacks is never chosen.
#pragma once

namespace duq::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512Vnni = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
};

const CpuFeatures& cpu_features();
// Best ISA the CPU supports, lowered by $DUQUANT_ISA or set_isa_override().
Isa active_isa();
// Forces a path for this process (clamped to what the CPU has); used by tests to cover every path.
void set_isa_override(Isa isa);
void clear_isa_override();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);

}  // namespace duq::kernels
