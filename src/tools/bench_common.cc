#include "tools/bench_common.h"

#include <cblas.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/threads.h"
#include "kernels/cpu_features.h"
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
  // Our threads, OpenBLAS and oneDNN (Debian's libdnnl runs on the same libgomp): one thread each.
  set_threads(1);
  return cpu;
}

namespace {
bool g_wall = false;
}

void use_wall_clock(bool wall) { g_wall = wall; }
bool wall_clock() { return g_wall; }
const char* clock_name() { return g_wall ? "wall time" : "process CPU time"; }

double bench_now() {
  if (g_wall) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<double> median_seconds_interleaved(const std::vector<std::function<void()>>& fs, int reps,
                                               double min_seconds) {
  for (const auto& f : fs) f();  // warm-up
  std::vector<std::vector<double>> t(fs.size());
  for (int r = 0; r < std::max(1, reps); ++r)
    for (size_t i = 0; i < fs.size(); ++i) {
      const double t0 = bench_now();
      int64_t calls = 0;
      double el = 0;
      do {
        fs[i]();
        ++calls;
        el = bench_now() - t0;
      } while (el < min_seconds);
      t[i].push_back(el / static_cast<double>(calls));
    }
  std::vector<double> med;
  for (auto& ti : t) {
    std::sort(ti.begin(), ti.end());
    const size_t n = ti.size();
    med.push_back(n % 2 ? ti[n / 2] : 0.5 * (ti[n / 2 - 1] + ti[n / 2]));
  }
  return med;
}

double median_seconds(const std::function<void()>& f, int reps, double min_seconds) {
  return median_seconds_interleaved({f}, reps, min_seconds)[0];
}

std::string json_number(double v, int digits) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace duq::tools
