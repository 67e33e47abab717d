#include "tools/bench_common.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/gemm_f32.h"

namespace duq::tools {

int pin_single_thread(int core) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  int cpu = core;
  if (cpu < 0 && sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &allowed)) {
        cpu = i;
        break;
      }
  if (cpu < 0) cpu = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::fprintf(stderr, "bench: could not pin to CPU %d; timings may move between cores\n", cpu);
    cpu = -1;
  }
  kernels::set_blas_threads(1);
  // Debian's libdnnl runs on OpenMP (libgomp, loaded with it): one thread, like everything else here.
  // Looked up at run time so the tool needs no -fopenmp.
  if (auto* set_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads")))
    set_threads(1);
  return cpu;
}

double median_seconds(const std::function<void()>& f, int reps, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  f();
  std::vector<double> t;
  for (int r = 0; r < std::max(1, reps); ++r) {
    const auto t0 = Clock::now();
    int64_t calls = 0;
    double el = 0;
    do {
      f();
      ++calls;
      el = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (el < min_seconds);
    t.push_back(el / static_cast<double>(calls));
  }
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

std::string json_number(double v, int digits) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace duq::tools
