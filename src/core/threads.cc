#include "core/threads.h"

#include <cblas.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace duq {

namespace {

constexpr int kMaxThreads = 4096;

// First line of a small text file ("" when unreadable).
std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  if (f) std::getline(f, s);
  return s;
}

// ⌈quota / period⌉ from the cgroup (v2 "quota period" or "max period"; v1 quota −1 = none), 0 when unlimited.
int cgroup_cpu_limit() {
  long long quota = -1, period = 0;
  const std::string v2 = read_line("/sys/fs/cgroup/cpu.max");
  if (!v2.empty()) {
    if (v2.rfind("max", 0) == 0) return 0;
    if (std::sscanf(v2.c_str(), "%lld %lld", &quota, &period) != 2) return 0;
  } else {
    const std::string q = read_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    const std::string p = read_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (q.empty() || p.empty()) return 0;
    quota = std::atoll(q.c_str());
    period = std::atoll(p.c_str());
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::max(1LL, (quota + period - 1) / period));
}

int g_threads = 0;  // 0: not yet decided (default_threads() on first use)

thread_local bool t_in_parallel = false;

}  // namespace

int default_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    std::set<std::pair<std::string, std::string>> cores;  // (package, core id)
    int unknown = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &set)) continue;
      const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      const std::string pkg = read_line(base + "physical_package_id"), core = read_line(base + "core_id");
      if (pkg.empty() || core.empty()) ++unknown;
      else cores.insert({pkg, core});
    }
    n = static_cast<int>(cores.size()) + unknown;
  }
  if (n < 1) n = std::max(1, omp_get_num_procs());
  if (const int lim = cgroup_cpu_limit(); lim > 0) n = std::min(n, lim);
  return std::clamp(n, 1, kMaxThreads);
}

int parse_threads(const std::string& s, const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end == s.c_str() || *end != '\0' || errno == ERANGE || s.find_first_of(" \t+") != std::string::npos)
    fail(what, ": expected a whole number of threads >= 1, got '", s, "'");
  if (v < 1 || v > kMaxThreads) fail(what, ": thread count must be in [1, ", kMaxThreads, "], got ", s);
  return static_cast<int>(v);
}

int num_threads() {
  if (g_threads == 0) set_threads(default_threads());
  return g_threads;
}

void set_threads(int n) {
  DUQ_CHECK(n >= 1 && n <= kMaxThreads && !t_in_parallel);
  if (g_threads == 0) openblas_set_num_threads(1);  // for good: see threads.h
  g_threads = n;
  omp_set_num_threads(n);  // oneDNN (libgomp) follows it too
}

bool in_parallel() { return t_in_parallel; }

void parallel_ranges(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int want = static_cast<int>(std::min<int64_t>(num_threads(), n));
  if (want < 2 || t_in_parallel || omp_in_parallel()) {
    body(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(want));
#pragma omp parallel num_threads(want)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    t_in_parallel = true;
    try {
      const int64_t b = n * t / T, e = n * (t + 1) / T;
      if (b < e) body(b, e);
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
    }
    t_in_parallel = false;
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void parallel_for(int64_t n, const std::function<void(int64_t)>& body) {
  parallel_ranges(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) body(i);
  });
}

ScopedBlasThreads::ScopedBlasThreads(int n) {
  num_threads();  // settle the default first (it sets BLAS to 1)
  openblas_set_num_threads(n);
}
ScopedBlasThreads::~ScopedBlasThreads() { openblas_set_num_threads(1); }

}  // namespace duq
