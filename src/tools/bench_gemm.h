// `duquant bench gemm`: our integer GEMM/GEMV (W4A4, W4A8, W8A8) beside OpenBLAS fp32 and oneDNN s8 on
// LLaMA-2-7B linear shapes, at one or more thread counts (one thread: pinned), with the scaling ratios; and the online
// transform + activation quantization as a share of the W4A4 linear time.
#pragma once
#include <vector>

namespace duq::tools {

struct GemmBenchOptions {
  bool json = false;               // stdout: {"gemm": [...]} only; the table goes to stderr
  bool quick = false;              // small shapes, one short repetition (smoke tests)
  int reps = 5;                    // medians over this many repetitions
  double min_seconds = 0.2;        // per repetition
  int core = -1;                   // CPU to pin to (−1: the first allowed)
  bool wall = false;               // wall time instead of process CPU time (forced when a thread count is > 1)
  std::vector<int> threads = {1};  // every figure at each of these thread counts, interleaved
  bool cpu_time = false;           // process CPU time even with several threads (work efficiency, not speed)
  std::vector<int> wide;           // non-empty: only the wide-channel cost (bench_wide.cc), at these K
};

void run_gemm_bench(const GemmBenchOptions& o);
// The cost of --wide-channels K on a W4A4 linear at each K in o.wide (at the first of o.threads).
void run_wide_gemm_bench(const GemmBenchOptions& o);

}  // namespace duq::tools
