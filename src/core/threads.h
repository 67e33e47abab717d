// The one owner of duquant's thread count. Everything parallel runs on OpenMP (the compiler's libgomp).
// OpenBLAS (Debian's pthread build) is kept at one thread: duquant splits large float products over its own
// threads (kernels/gemm_f32.h). Two pools on the same cores fight: OpenBLAS's idle workers spin-yield for up
// to ~0.1 s after each call and libgomp's spin after each region, so alternating the two (a BLAS call between
// integer GEMMs, as the engines do) cost 10–1000× on a 2-core machine in measurements; with one pool the
// cores are never oversubscribed.
//
// Determinism: every parallel loop here is a static partition of independent work items (rows, tokens,
// weight panels, heads, blocks), each written by exactly one thread in the same arithmetic order as the
// serial loop; nothing reduces floats across threads. So results are bit-identical for any thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace duq {

// Physical cores this process may run on: the CPUs in its affinity mask (sched_getaffinity), counted once
// per physical core (SMT siblings share one), capped by the cgroup CPU quota (cgroup v2 cpu.max, v1
// cpu.cfs_quota_us / cpu.cfs_period_us, rounded up). At least 1.
int default_threads();

// Parses a thread count (an integer ≥ 1, at most 4096); `what` names the option or variable in the error.
int parse_threads(const std::string& s, const std::string& what);

// The thread count in force (default_threads() until set_threads is called).
int num_threads();
// Sets it (OpenMP's count too; oneDNN follows it). n ≥ 1. Call outside parallel regions.
void set_threads(int n);

// Calls body(i) for i in [0, n) on up to num_threads() threads, statically partitioned into contiguous
// ranges (thread t of T gets [n·t/T, n·(t+1)/T)); serial when n < 2, one thread is set, or already inside a
// parallel region. Exceptions thrown by body are rethrown (the first one, by index order of the thread)
// after the region.
void parallel_for(int64_t n, const std::function<void(int64_t)>& body);
// The same with one call per thread on its contiguous range [begin, end) (for bodies with per-range setup).
void parallel_ranges(int64_t n, const std::function<void(int64_t begin, int64_t end)>& body);

// True inside a parallel_for / parallel_ranges body running on more than one thread.
bool in_parallel();

// OpenBLAS's own threading at n threads for its lifetime (the OpenBLAS peer of `duquant bench`), then back
// to one thread.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;
};

}  // namespace duq
