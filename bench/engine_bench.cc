// Float engine speed: prefill and decode tokens/s on stories260K and a synthetic ~100M-parameter LLaMA
// (dim 768, 12 layers), single thread, pinned; beside OpenBLAS sgemm on the same GEMM shapes in the same run.
// The prefill counters split the time: gemm_share = time inside the linear layers / total, and
// gemm_gflops = the GFLOP/s those GEMMs reached inside the engine (compare with BM_Sgemm on that shape).
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include "bench_util.h"
#include "core/assets.h"
#include "core/rng.h"
#include "model/forward.h"
#include "model/synthetic.h"

namespace duq::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Wraps the float linears of a block and accumulates their time and flops.
class TimedLinears : public model::BlockLinears {
 public:
  TimedLinears(const model::LayerWeights& w, double* seconds, double* flops) : f_(w), s_(seconds), fl_(flops) {}
  void attn_in(ConstMatView x, MatView q, MatView k, MatView v) const override {
    timed(x.rows * x.cols * (q.cols + k.cols + v.cols), [&] { f_.attn_in(x, q, k, v); });
  }
  void attn_out(ConstMatView a, MatView y) const override {
    timed(a.rows * a.cols * y.cols, [&] { f_.attn_out(a, y); });
  }
  void ffn_in(ConstMatView x, MatView g, MatView u) const override {
    timed(x.rows * x.cols * (g.cols + u.cols), [&] { f_.ffn_in(x, g, u); });
  }
  void down(ConstMatView a, MatView y) const override {
    timed(a.rows * a.cols * y.cols, [&] { f_.down(a, y); });
  }

 private:
  template <class F>
  void timed(int64_t macs, F&& f) const {
    auto t0 = Clock::now();
    f();
    *s_ += std::chrono::duration<double>(Clock::now() - t0).count();
    *fl_ += 2.0 * static_cast<double>(macs);
  }
  model::FloatLinears f_;
  double* s_;
  double* fl_;
};

struct Loaded {
  std::unique_ptr<model::Model> m;
  double gemm_s = 0, gemm_flops = 0;
};

// 0 = stories260K (real), 1 = synthetic 100M.
Loaded& get_model(int which) {
  static std::map<int, Loaded> cache;
  auto it = cache.find(which);
  if (it != cache.end()) return it->second;
  Loaded& L = cache[which];
  if (which == 0) {
    L.m = std::make_unique<model::Model>(
        model::Model::load((assets_dir() / "models/stories260K/stories260K.bin").string()));
  } else {
    model::ModelConfig c;
    c.dim = 768, c.hidden_dim = 2048, c.n_layers = 12, c.n_heads = 12, c.n_kv_heads = 12, c.vocab_size = 32000;
    c.max_seq_len = 1024, c.tied_embeddings = false;
    L.m = std::make_unique<model::Model>(c, model::random_weights(c, 1));
  }
  for (int l = 0; l < L.m->config().n_layers; ++l)
    L.m->set_block_linears(
        l, std::make_shared<TimedLinears>(L.m->weights().layers[static_cast<size_t>(l)], &L.gemm_s, &L.gemm_flops));
  return L;
}

std::vector<int> tokens(int n, int vocab) {
  Rng r(7);
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int>(r.below(static_cast<uint64_t>(vocab)));
  return t;
}

void BM_Prefill(benchmark::State& st) {
  Loaded& L = get_model(static_cast<int>(st.range(0)));
  const int T = static_cast<int>(st.range(1));
  auto toks = tokens(T, L.m->config().vocab_size);
  model::KVCache cache(L.m->config(), T);
  L.gemm_s = L.gemm_flops = 0;
  double total = 0;
  for (auto _ : st) {
    auto t0 = Clock::now();
    benchmark::DoNotOptimize(L.m->forward(toks, 0, cache, nullptr, /*last_only=*/true));
    total += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  st.counters["tok/s"] = benchmark::Counter(static_cast<double>(T) * st.iterations(), benchmark::Counter::kIsRate);
  st.counters["gemm_share"] = L.gemm_s / total;
  st.counters["gemm_gflops"] = L.gemm_flops / L.gemm_s * 1e-9;
  st.SetLabel(st.range(0) == 0 ? "stories260K" : "synthetic-100M");
}

void BM_Decode(benchmark::State& st) {
  Loaded& L = get_model(static_cast<int>(st.range(0)));
  const int prefix = 64, steps = 64;
  auto toks = tokens(prefix + steps, L.m->config().vocab_size);
  model::KVCache cache(L.m->config(), prefix + steps);
  for (auto _ : st) {
    L.m->forward(std::span<const int>(toks.data(), prefix), 0, cache, nullptr, true);
    for (int i = 0; i < steps; ++i)
      benchmark::DoNotOptimize(L.m->forward(std::span<const int>(&toks[static_cast<size_t>(prefix + i)], 1), prefix + i,
                                            cache, nullptr, true));
  }
  // Only the decode steps count as tokens; the prefix prefill is included in the time (small next to 64 steps).
  st.counters["tok/s"] = benchmark::Counter(static_cast<double>(steps) * st.iterations(), benchmark::Counter::kIsRate);
  st.SetLabel(st.range(0) == 0 ? "stories260K (64 after a 64-token prefill)"
                               : "synthetic-100M (64 after a 64-token prefill)");
}

// The engine's GEMM shapes alone: Y [T×O] = X [T×D]·Wᵀ.
void BM_Sgemm(benchmark::State& st) {
  const int64_t T = st.range(0), O = st.range(1), D = st.range(2);
  Mat x(T, D), w(O, D), y(T, O);
  Rng r(1);
  for (float& v : x.flat()) v = static_cast<float>(r.normal());
  for (float& v : w.flat()) v = static_cast<float>(r.normal());
  for (auto _ : st) {
    kernels::matmul_xwt(x, w, y);
    benchmark::ClobberMemory();
  }
  st.counters["gflops"] = benchmark::Counter(2.0 * T * O * D * st.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Prefill)
    ->Args({0, 256})
    ->Args({0, 512})
    ->Args({1, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_Decode)
    ->Args({0})
    ->Args({1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
// stories260K: D 64, H 172, Q 64, K 32; synthetic: D 768, H 2048.
BENCHMARK(BM_Sgemm)
    ->Args({512, 64, 64})
    ->Args({512, 172, 64})
    ->Args({512, 64, 172})
    ->Args({512, 768, 768})
    ->Args({512, 2048, 768})
    ->Args({512, 768, 2048})
    ->Args({512, 32000, 768})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace
}  // namespace duq::bench

int main(int argc, char** argv) {
  duq::bench::pin_single_core();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
