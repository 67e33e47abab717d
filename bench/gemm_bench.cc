// Integer GEMM/GEMV (kernels/int_gemm.h) against fp32 OpenBLAS and oneDNN s8 at LLaMA-2-7B linear shapes,
// single thread, pinned to CPU 0. N×K ∈ {4096×4096, 11008×4096, 4096×11008}, M ∈ {1 (GEMV), 16 (batched decode), 512}.
// Counter GOP/s = 2·M·N·K / time (int ops for ours and oneDNN, flops for OpenBLAS). Medians of 5 runs.
//
//   Int/W4A4, W4A8, W8A8   ours: int_gemm on prepacked weights and prequantized activations
//   Sgemm                  OpenBLAS cblas_sgemm (M = 512) / cblas_sgemv (M = 1), fp32
//   Dnnl_s8                oneDNN matmul u8 × s8 → f32 with per-output scales, weights reordered once
//                          into oneDNN's preferred layout (only when built with DUQ_HAVE_DNNL, i.e. linked
//                          against libdnnl)
//   ActQuant / TransformQuant   per-token quantization of X [512×4096] (4 bits), plain and fused with
//                          Λ⁻¹·R̂₁·P·R̂₂ at b = 128; compare with Int/W4A4/512/4096/4096.
//
// Run: build/bench/bench_gemm_bench [--benchmark_filter=...]; DUQUANT_ISA=avx2|scalar lowers the path.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <sched.h>

#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/threads.h"
#include "kernels/act_quant.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"
#include "kernels/int_gemm.h"
#include "tools/dnnl_s8_matmul.h"
#include "tools/transform_fixture.h"

#if defined(DUQ_HAVE_DNNL)
#include <dlfcn.h>
#endif

namespace {

using duq::Mat;
namespace k = duq::kernels;

const Mat& random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  static std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Mat>> cache;
  auto& slot = cache[{rows * 1000003 + cols, static_cast<int64_t>(seed)}];
  if (!slot) {
    slot = std::make_unique<Mat>(rows, cols);
    duq::Rng rng(seed);
    for (auto& v : slot->flat()) v = static_cast<float>(rng.normal());
  }
  return *slot;
}

const k::PackedWeights& packed(int64_t n, int64_t kk, int bits) {
  static std::map<std::tuple<int64_t, int64_t, int>, std::unique_ptr<k::PackedWeights>> cache;
  auto& slot = cache[{n, kk, bits}];
  if (!slot) slot = std::make_unique<k::PackedWeights>(k::quantize_pack_weights(random_matrix(n, kk, 2), bits, 1.f));
  return *slot;
}

void set_gops(benchmark::State& state, int64_t m, int64_t n, int64_t kk) {
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(m * n * kk) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Int(benchmark::State& state, int wbits, int abits) {
  const int64_t m = state.range(0), n = state.range(1), kk = state.range(2);
  k::QuantActs x;
  k::quantize_acts(random_matrix(m, kk, 1), abits, 1.f, x);
  const k::PackedWeights& w = packed(n, kk, wbits);
  Mat y(m, n);
  for (auto _ : state) {
    k::int_gemm(x, w, y);
    benchmark::DoNotOptimize(y.data());
  }
  set_gops(state, m, n, kk);
  state.SetLabel(k::isa_name(k::active_isa()));
}

void BM_Sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), kk = state.range(2);
  const Mat& x = random_matrix(m, kk, 1);
  const Mat& w = random_matrix(n, kk, 2);
  Mat y(m, n);
  for (auto _ : state) {
    if (m == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(kk), 1.f, w.data(),
                  static_cast<int>(kk), x.data(), 1, 0.f, y.data(), 1);
    else k::matmul_xwt(x, w, y);
    benchmark::DoNotOptimize(y.data());
  }
  set_gops(state, m, n, kk);
}

#if defined(DUQ_HAVE_DNNL)
void BM_Dnnl_s8(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), kk = state.range(2);
  duq::tools::DnnlS8Matmul mm(m, n, kk);
  for (auto _ : state) mm.run();
  set_gops(state, m, n, kk);
  state.SetLabel(mm.impl_info());
}
#endif

// Transform + quantization of X [512×4096] at b = 128 (DuQuant's default block), 4-bit.
void BM_ActQuant(benchmark::State& state) {
  const int64_t m = state.range(0), kk = state.range(1);
  const Mat& x = random_matrix(m, kk, 1);
  k::QuantActs q;
  for (auto _ : state) {
    k::quantize_acts(x, 4, 0.9f, q);
    benchmark::DoNotOptimize(q.codes.data());
  }
  state.SetLabel(k::isa_name(k::active_isa()));
}

void BM_TransformQuant(benchmark::State& state) {
  const int64_t m = state.range(0), kk = state.range(1), b = state.range(2);
  const Mat& x = random_matrix(m, kk, 1);
  duq::tools::TransformFixture f(kk, b);
  k::QuantActs q;
  for (auto _ : state) {
    k::transform_quantize_acts(x, f.ti, 4, 0.9f, q);
    benchmark::DoNotOptimize(q.codes.data());
  }
  // flops of the two block rotations (int16 MACs)
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 2.0 * static_cast<double>(m * kk * b) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(k::isa_name(k::active_isa()));
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 16, 512})  // 16: a batched decode step (serve) of 16 sequences
    for (auto [n, kk] : {std::pair<int64_t, int64_t>{4096, 4096}, {11008, 4096}, {4096, 11008}}) b->Args({m, n, kk});
  b->ArgNames({"M", "N", "K"})->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);
  b->MinTime(0.3);
}

BENCHMARK_CAPTURE(BM_Int, W4A4, 4, 4)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Int, W4A8, 4, 8)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Int, W8A8, 8, 8)->Apply(shapes);
BENCHMARK(BM_Sgemm)->Apply(shapes);
#if defined(DUQ_HAVE_DNNL)
BENCHMARK(BM_Dnnl_s8)->Apply(shapes);
#endif
BENCHMARK(BM_ActQuant)
    ->Args({512, 4096})
    ->ArgNames({"M", "K"})
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_TransformQuant)
    ->Args({512, 4096, 128})
    ->ArgNames({"M", "K", "b"})
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace

int main(int argc, char** argv) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity(CPU 0)");
  duq::set_threads(1);
#if defined(DUQ_HAVE_DNNL)
  // Debian's libdnnl runs on OpenMP (libgomp, loaded with it): one thread, like everything else here.
  // Looked up at run time so the benchmark needs no -fopenmp.
  if (auto* set_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) set_threads(1);
  else std::fprintf(stderr, "note: omp_set_num_threads not found; oneDNN may use several threads\n");
#else
  std::fprintf(stderr, "note: built without oneDNN (DUQ_HAVE_DNNL), Dnnl_s8 baseline skipped\n");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
