// Randomized Hadamard transform (QuaRot's x ↦ (x ⊙ s)·(A ⊗ H_p), transform/hadamard.h) per row at every LLaMA
// width: 32 rows per call, one thread; the time per row is the `per_row` counter (seconds).
// Run: build/bench/bench_hadamard_bench. The dense order-5504 Paley matrix the earlier code used for 11008
// took ~49 ms per row; H_344 ⊗ H_32 is O(n·(344 + log n)). Measured on the shared 2-core dev box (load ~9,
// CPU time per row): 4096 13 µs, 5120 56 µs, 5632 40 µs, 8192 28 µs, 11008 293 µs, 13824 164 µs,
// 14336 90 µs, 28672 172 µs.
#include <benchmark/benchmark.h>

#include "core/rng.h"
#include "core/threads.h"
#include "kernels/gemm_f32.h"
#include "transform/hadamard.h"

namespace {

void hadamard_rows(benchmark::State& state) {
  duq::set_threads(1);
  const int64_t n = state.range(0), rows = 32;
  const duq::transform::RandomizedHadamard h(n, 7);
  duq::Mat x(rows, n);
  duq::Rng rng(1);
  for (auto& v : x.flat()) v = static_cast<float>(rng.normal());
  for (auto _ : state) {
    h.apply_rows(x);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["per_row"] = benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["factor_m"] = static_cast<double>(duq::transform::Hadamard(n).factor_order());
}

BENCHMARK(hadamard_rows)
    ->Arg(4096)
    ->Arg(5120)
    ->Arg(5632)
    ->Arg(8192)
    ->Arg(11008)
    ->Arg(13824)
    ->Arg(14336)
    ->Arg(28672)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
