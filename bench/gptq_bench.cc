// GPTQ of one LLaMA-7B FFN-sized layer, W [11008 × 4096] (gate/up: 11008 outputs, 4096 inputs), 4-bit per
// output channel, block 128, single core; the Hessian from 2048 correlated calibration rows (one window).
// Pieces timed separately: Hessian accumulation, the inverse's upper Cholesky factor (H 4096×4096, double),
// and the whole gptq_quantize call. Baselines in the same run: RTN of the same weight, and OpenBLAS sgemm
// with the flops of GPTQ's lazy updates (O·D² = 11008·4096·4096·... as [11008×4096]·[4096×2048]).
//
// Run: build/bench/bench_gptq_bench. Target: gptq_quantize < 30 s on one core.
// Measured on the shared 2-core dev box (load ~12, so CPU time; wall ≈ 5× it): gptq_quantize 8.8 s CPU
// (act-order 10.0 s), of which the upper Cholesky factor of H⁻¹ 3.4 s; Hessian of 2048 rows 1.4 s; RTN 0.6 s;
// OpenBLAS sgemm with the lazy-update flops 6.6 s (this box's OpenBLAS runs its generic SSE3 kernel).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "core/rng.h"
#include "kernels/gemm_f32.h"
#include "quant/gptq.h"
#include "quant/gptq_linalg.h"

namespace {

using duq::Mat;
constexpr int64_t kOut = 11008, kIn = 4096, kRows = 2048;

const Mat& weight() {
  static Mat w;
  if (w.rows() == 0) {
    w.resize(kOut, kIn);
    duq::Rng rng(1);
    for (float& v : w.flat()) v = static_cast<float>(0.02 * rng.normal());
  }
  return w;
}

// Rows with correlated channels: x_tj = n_tj + n_t,(j mod 64) (a shared component per channel class).
const Mat& inputs() {
  static Mat x;
  if (x.rows() == 0) {
    x.resize(kRows, kIn);
    duq::Rng rng(2);
    std::vector<float> shared(64);
    for (int64_t t = 0; t < kRows; ++t) {
      for (float& s : shared) s = static_cast<float>(rng.normal());
      for (int64_t j = 0; j < kIn; ++j)
        x(t, j) = static_cast<float>(rng.normal()) + shared[static_cast<size_t>(j % 64)];
    }
  }
  return x;
}

const duq::quant::Hessian& hessian() {
  static duq::quant::Hessian h;
  if (h.dim() == 0) {
    h = duq::quant::Hessian(kIn);
    h.add(inputs());
  }
  return h;
}

void BM_HessianAdd2048Rows(benchmark::State& st) {
  duq::bench::pin_single_core();
  const Mat& x = inputs();
  for (auto _ : st) {
    duq::quant::Hessian h(kIn);
    h.add(x);
    benchmark::DoNotOptimize(h.data().data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * kRows * kIn * kIn * 1e-9, benchmark::Counter::kIsRate);
}

void BM_InverseUpperCholesky4096(benchmark::State& st) {
  duq::bench::pin_single_core();
  std::vector<double> h = hessian().data(), u;
  for (int64_t j = 0; j < kIn; ++j) h[static_cast<size_t>(j * kIn + j)] += 0.01;
  for (auto _ : st) benchmark::DoNotOptimize(duq::quant::inverse_upper_cholesky(h, kIn, u));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 / 3.0 * kIn * kIn * double(kIn) * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Gptq_11008x4096(benchmark::State& st) {
  duq::bench::pin_single_core();
  const Mat& w = weight();
  const auto& h = hessian();
  duq::quant::QuantSpec spec;
  spec.bits = 4;
  duq::quant::GptqOptions o;
  o.act_order = st.range(0) != 0;
  for (auto _ : st) benchmark::DoNotOptimize(duq::quant::gptq_quantize(w, h, spec, o).codes.data());
  st.counters["lazy GFLOP/s"] = benchmark::Counter(double(kOut) * kIn * kIn * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Rtn_11008x4096(benchmark::State& st) {
  duq::bench::pin_single_core();
  const Mat& w = weight();
  duq::quant::QuantSpec spec;
  spec.bits = 4;
  for (auto _ : st) benchmark::DoNotOptimize(duq::quant::quantize(w, spec).codes.data());
}

// OpenBLAS sgemm with GPTQ's lazy-update flops: C [11008×2048] = A [11008×4096]·B [4096×2048].
void BM_SgemmSameFlops(benchmark::State& st) {
  duq::bench::pin_single_core();
  const Mat& a = weight();
  Mat b(kIn, kIn / 2), c(kOut, kIn / 2);
  for (float& v : b.flat()) v = 0.5f;
  for (auto _ : st) duq::kernels::matmul(a, b, c);
  st.counters["GFLOP/s"] = benchmark::Counter(double(kOut) * kIn * kIn * 1e-9, benchmark::Counter::kIsRate);
}

BENCHMARK(BM_HessianAdd2048Rows)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_InverseUpperCholesky4096)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_Gptq_11008x4096)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_Rtn_11008x4096)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_SgemmSameFlops)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
