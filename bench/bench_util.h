// Shared by the benchmark programs: pin to one core, single-threaded BLAS, assets location.
#pragma once
#include <sched.h>

#include <cstdio>

#include "core/threads.h"
#include "kernels/gemm_f32.h"

namespace duq::bench {

// Pins the process to CPU `core` and limits BLAS to one thread: single-core numbers that are comparable
// across runs on a shared, noisy machine.
inline void pin_single_core(int core = 0) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) std::fprintf(stderr, "bench: could not pin to core %d\n", core);
  duq::set_threads(1);
}

}  // namespace duq::bench
