// `duquant bench gemm --wide-channels 0,16,32,…`: what keeping K channels at 8 bits costs a W4A4 linear at
// LLaMA-2-7B shapes — the engine's whole path per linear (online transform with int16 rotations, per-token
// quantization, GEMM) with K = 0 (the fused transform + quantization, one W4A4 GEMM) against K > 0 (the
// transform, the split quantization, the W4A4 GEMM plus the W8A8 GEMM over K columns and the addition:
// kernels::quantize_acts_split, kernels::int_gemm_wide), interleaved, medians.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/threads.h"
#include "kernels/act_quant.h"
#include "kernels/cpu_features.h"
#include "kernels/int_gemm.h"
#include "tools/bench_common.h"
#include "tools/bench_gemm.h"
#include "tools/transform_fixture.h"

namespace duq::tools {

namespace k = kernels;

void run_wide_gemm_bench(const GemmBenchOptions& o) {
  const int nt = o.threads.front();
  set_threads(nt);
  const int cpu = nt == 1 ? pin_single_thread(o.core) : -1;
  use_wall_clock(o.wall || nt > 1);
  struct Shape {
    int64_t n, kk;
  };
  const std::vector<Shape> shapes = o.quick ? std::vector<Shape>{{512, 512}, {512, 1376}}
                                            : std::vector<Shape>{{4096, 4096}, {11008, 4096}, {4096, 11008}};
  const std::vector<int64_t> ms = o.quick ? std::vector<int64_t>{1, 64} : std::vector<int64_t>{1, 512};
  const int reps = o.quick ? 1 : o.reps;
  const double min_s = o.quick ? 0.0 : o.min_seconds;
  std::FILE* table = o.json ? stderr : stdout;
  std::fprintf(stderr, "bench gemm --wide-channels: %d thread%s%s, ISA %s, median of %d repetitions, %s\n", nt,
               nt == 1 ? "" : "s", cpu >= 0 ? (", pinned to CPU " + std::to_string(cpu)).c_str() : "",
               k::isa_name(k::active_isa()), reps, clock_name());
  std::fprintf(table,
               "\nW4A4 linear with K wide channels (transform + quantization + GEMMs), ms, and its cost over K = 0\n");
  std::fprintf(table, "%-11s %5s %6s %10s %8s\n", "N×K", "M", "wide K", "ms", "cost");
  std::vector<int> wide_list = o.wide;  // K = 0 first: the plain linear each cost is relative to
  std::erase(wide_list, 0);
  wide_list.insert(wide_list.begin(), 0);
  std::string json;
  Rng rng(3);
  for (const Shape& s : shapes) {
    Mat w(s.n, s.kk);
    for (auto& v : w.flat()) v = static_cast<float>(rng.normal());
    const k::PackedWeights w4 = k::quantize_pack_weights(w, 4, 1.f);
    const TransformFixture tf(s.kk, std::min<int64_t>(128, s.kk));
    for (int64_t m : ms) {
      Mat x(m, s.kk), y(m, s.n), t(m, s.kk), scratch;
      for (auto& v : x.flat()) v = static_cast<float>(rng.normal());
      std::vector<std::function<void()>> fns;
      std::vector<int> ks;
      std::vector<std::vector<int32_t>> wides;
      std::vector<k::PackedWeights> w8;
      wides.reserve(wide_list.size());
      w8.reserve(wide_list.size());
      k::QuantActs a, aw;
      for (int kw : wide_list) {
        if (kw >= s.kk) continue;
        ks.push_back(kw);
        if (kw == 0) {
          fns.emplace_back([&] {
            k::transform_quantize_acts(x, tf.ti, 4, 0.9f, a);
            k::int_gemm(a, w4, y);
          });
          continue;
        }
        auto& wide = wides.emplace_back();
        for (int i = 0; i < kw; ++i) wide.push_back(static_cast<int32_t>(i * (s.kk / kw)));  // spread out
        Mat wc(s.n, kw);
        for (auto& v : wc.flat()) v = static_cast<float>(rng.normal());
        const k::PackedWeights* ww = &w8.emplace_back(k::quantize_pack_weights(wc, k::kWideBits, 1.f));
        const std::vector<int32_t>* wl = &wide;
        fns.emplace_back([&, ww, wl] {
          k::apply_act_transform(x, tf.ti, t);
          k::quantize_acts_split(t, wl->data(), static_cast<int64_t>(wl->size()), 4, 0.9f, a, aw);
          k::int_gemm_wide(a, w4, aw, *ww, y, scratch);
        });
      }
      const std::vector<double> sec = median_seconds_interleaved(fns, reps, min_s);
      double base = 0;
      for (size_t i = 0; i < ks.size(); ++i)
        if (ks[i] == 0) base = sec[i];
      const std::string shape = std::to_string(s.n) + "x" + std::to_string(s.kk);
      for (size_t i = 0; i < ks.size(); ++i) {
        const double cost = base > 0 ? sec[i] / base : 0;
        std::fprintf(table, "%-11s %5lld %6d %10.3f %7.2fx\n", shape.c_str(), static_cast<long long>(m), ks[i],
                     sec[i] * 1e3, cost);
        json += std::string(json.empty() ? "" : ", ") + "{\"shape\": \"" + shape + "\", \"m\": " + std::to_string(m) +
                ", \"wide\": " + std::to_string(ks[i]) + ", \"ms\": " + json_number(sec[i] * 1e3, 4) +
                ", \"cost\": " + json_number(cost, 4) + "}";
      }
    }
  }
  if (o.json)
    std::printf("{\"threads\": %d, \"clock\": \"%s\", \"wide\": [%s]}\n", nt, wall_clock() ? "wall" : "cpu",
                json.c_str());
}

}  // namespace duq::tools
