#include "tools/bench_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/threads.h"
#include "kernels/act_quant.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"
#include "kernels/int_gemm.h"
#include "tools/bench_common.h"
#include "tools/dnnl_s8_matmul.h"
#include "tools/transform_fixture.h"

namespace duq::tools {
namespace {

namespace k = kernels;

struct Shape {
  int64_t n, k;
  std::string name() const { return std::to_string(n) + "x" + std::to_string(k); }
};

struct Row {
  std::string shape;
  int64_t m;
  std::string impl;
  int threads;
  double gops, seconds;
};

Mat random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  Mat m(rows, cols);
  Rng rng(seed);
  for (auto& v : m.flat()) v = static_cast<float>(rng.normal());
  return m;
}

const char* kImpls[] = {"w4a4", "w4a8", "w8a8", "f32_openblas", "s8_onednn"};

}  // namespace

void run_gemm_bench(const GemmBenchOptions& o) {
  const std::vector<int>& tcounts = o.threads;
  const bool multi = *std::max_element(tcounts.begin(), tcounts.end()) > 1;
  // One thread: pinned to one core, timed by process CPU time (as before). Several: unpinned, timed by wall
  // clock (CPU time would add the threads up), every count interleaved with the others.
  const int cpu = multi ? -1 : pin_single_thread(o.core);
  const std::vector<Shape> shapes = o.quick ? std::vector<Shape>{{512, 512}, {1376, 512}, {512, 1376}}
                                            : std::vector<Shape>{{4096, 4096}, {11008, 4096}, {4096, 11008}};
  const std::vector<int64_t> ms = o.quick ? std::vector<int64_t>{1, 64} : std::vector<int64_t>{1, 512};
  const int reps = o.quick ? 1 : o.reps;
  const double min_s = o.quick ? 0.0 : o.min_seconds;
  std::FILE* table = o.json ? stderr : stdout;
  use_wall_clock(o.wall || (multi && !o.cpu_time));
  std::string tlist;
  for (int t : tcounts) (tlist += tlist.empty() ? "" : ",") += std::to_string(t);
  if (multi)
    std::fprintf(stderr,
                 "bench gemm: threads %s (OpenBLAS and oneDNN at the same count), not pinned, ISA %s, OpenBLAS %s, "
                 "median of %d repetitions, %s\n",
                 tlist.c_str(), k::isa_name(k::active_isa()), k::openblas_core(), reps, clock_name());
  else
    std::fprintf(stderr,
                 "bench gemm: pinned to CPU %d, one thread, ISA %s, OpenBLAS %s, median of %d repetitions, %s\n", cpu,
                 k::isa_name(k::active_isa()), k::openblas_core(), reps, clock_name());

  // Per (shape, M) every implementation at every thread count is timed interleaved
  // (median_seconds_interleaved), so the ratios compare like with like. At the largest M the online
  // transform + quantization of the GEMM's input X [M×K] joins the same interleave, once per K (4096 at the
  // first shape, 11008 at the third): its share of the W4A4 linear time is a ratio too.
  const int64_t tM = ms.back();
  struct TransformTimes {
    double quant = 0, int16 = 0, fp32 = 0;  // seconds: quantize only, transform + quantize (int16 / fp32 exact)
  };
  std::map<std::pair<int64_t, int>, TransformTimes> tt;  // by (K, threads)
  k::QuantActs tq;
  std::vector<Row> rows;
  std::map<std::string, double> w4a4_seconds;  // "NxK/m/threads" → s
  for (const Shape& s : shapes) {
    const Mat w = random_matrix(s.n, s.k, 2);
    std::map<int, k::PackedWeights> packed;
    for (int bits : {4, 8}) packed.emplace(bits, k::quantize_pack_weights(w, bits, 1.f));
    for (int64_t m : ms) {
      const Mat x = random_matrix(m, s.k, 1);
      Mat y(m, s.n);
      const double ops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      std::vector<std::string> names;
      std::vector<int> fthreads;
      std::vector<std::function<void()>> fns;
      std::map<int, k::QuantActs> acts;  // by activation bits
      for (int ab : {4, 8}) k::quantize_acts(x, ab, 1.f, acts[ab]);
      const bool with_transform = m == tM && !tt.count({s.k, tcounts[0]});
      std::unique_ptr<TransformFixture> tf;
      if (with_transform) tf = std::make_unique<TransformFixture>(s.k, std::min<int64_t>(128, s.k));
#if defined(DUQ_HAVE_DNNL)
      std::vector<std::unique_ptr<DnnlS8Matmul>> dnnl;  // one per thread count, created at that count
#endif
      std::vector<size_t> first_transform(tcounts.size(), 0);
      for (size_t ti = 0; ti < tcounts.size(); ++ti) {
        const int nt = tcounts[ti];
        auto add = [&](const std::string& name, std::function<void()> f) {
          names.push_back(name);
          fthreads.push_back(nt);
          fns.push_back([nt, f = std::move(f)] {
            if (num_threads() != nt) set_threads(nt);
            f();
          });
        };
        for (auto [wb, ab, name] : {std::tuple{4, 4, "w4a4"}, std::tuple{4, 8, "w4a8"}, std::tuple{8, 8, "w8a8"}})
          add(name, [&, wb = wb, ab = ab] { k::int_gemm(acts.at(ab), packed.at(wb), y); });
        add("f32_openblas", [&, nt] {
          // the peer as it comes: OpenBLAS's own threads at this count (ours keep it at one otherwise)
          ScopedBlasThreads blas(nt);
          if (m == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(s.n), static_cast<int>(s.k), 1.f, w.data(),
                        static_cast<int>(s.k), x.data(), 1, 0.f, y.data(), 1);
          else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(s.n),
                        static_cast<int>(s.k), 1.f, x.data(), static_cast<int>(s.k), w.data(), static_cast<int>(s.k),
                        0.f, y.data(), static_cast<int>(s.n));
        });
#if defined(DUQ_HAVE_DNNL)
        set_threads(nt);
        dnnl.push_back(std::make_unique<DnnlS8Matmul>(m, s.n, s.k));
        add("s8_onednn", [d = dnnl.back().get()] { d->run(); });
#endif
        first_transform[ti] = fns.size();
        if (with_transform) {
          add("t_quant", [&] { k::quantize_acts(x, 4, 0.9f, tq); });
          add("t_int16", [&] { k::transform_quantize_acts(x, tf->ti, 4, 0.9f, tq); });
          add("t_fp32", [&] { k::transform_quantize_acts(x, tf->t, 4, 0.9f, tq); });
        }
      }
      const std::vector<double> sec = median_seconds_interleaved(fns, reps, min_s);
      for (size_t i = 0; i < fns.size(); ++i) {
        if (names[i].rfind("t_", 0) == 0) continue;
        rows.push_back({s.name(), m, names[i], fthreads[i], ops / sec[i] * 1e-9, sec[i]});
        std::fprintf(stderr, "  %-11s M=%-4lld %-13s %2d thr %8.2f GOP/s  (%.3f ms)\n", s.name().c_str(),
                     static_cast<long long>(m), names[i].c_str(), fthreads[i], ops / sec[i] * 1e-9, sec[i] * 1e3);
        if (names[i] == "w4a4")
          w4a4_seconds[s.name() + "/" + std::to_string(m) + "/" + std::to_string(fthreads[i])] = sec[i];
      }
      if (with_transform)
        for (size_t ti = 0; ti < tcounts.size(); ++ti) {
          const size_t f0 = first_transform[ti];
          tt[{s.k, tcounts[ti]}] = {sec[f0], sec[f0 + 1], sec[f0 + 2]};
        }
    }
  }
  set_threads(tcounts.front());

  // Table per thread count: one line per (shape, M); ratios of ours against fp32 and oneDNN at the same
  // shape and thread count.
  auto find = [&](const std::string& shape, int64_t m, const std::string& impl, int nt) -> const Row* {
    for (const Row& r : rows)
      if (r.shape == shape && r.m == m && r.impl == impl && r.threads == nt) return &r;
    return nullptr;
  };
  for (int nt : tcounts) {
    std::fprintf(table, "\nGEMM GOP/s (2·M·N·K / time; %d thread%s), shape N×K\n", nt, nt == 1 ? "" : "s");
    std::fprintf(table, "%-11s %5s %9s %9s %9s %9s %9s | %-23s | %-23s\n", "N×K", "M", "w4a4", "w4a8", "w8a8", "f32",
                 "s8_onednn", "ours/f32 (4a4 4a8 8a8)", "ours/oneDNN (4a4 4a8 8a8)");
    for (const Shape& s : shapes)
      for (int64_t m : ms) {
        double g[5] = {0, 0, 0, 0, 0};
        for (int i = 0; i < 5; ++i)
          if (const Row* r = find(s.name(), m, kImpls[i], nt)) g[i] = r->gops;
        std::fprintf(table, "%-11s %5lld %9.1f %9.1f %9.1f %9.1f %9.1f | %6.2f %6.2f %6.2f    | %6.2f %6.2f %6.2f\n",
                     s.name().c_str(), static_cast<long long>(m), g[0], g[1], g[2], g[3], g[4], g[0] / g[3],
                     g[1] / g[3], g[2] / g[3], g[4] > 0 ? g[0] / g[4] : 0., g[4] > 0 ? g[1] / g[4] : 0.,
                     g[4] > 0 ? g[2] / g[4] : 0.);
      }
  }
#if !defined(DUQ_HAVE_DNNL)
  std::fprintf(table, "(built without oneDNN: s8_onednn not measured)\n");
#endif
  // Scaling: speed at each thread count over the speed at the first one, per implementation.
  std::string scaling_json;
  if (tcounts.size() > 1) {
    const int t0 = tcounts.front();
    std::fprintf(table, "\nThread scaling (speed at N threads / speed at %d), interleaved, %s\n", t0, clock_name());
    std::fprintf(table, "%-11s %5s %8s", "N×K", "M", "threads");
    for (const char* impl : kImpls) std::fprintf(table, " %12s", impl);
    std::fprintf(table, "\n");
    for (const Shape& s : shapes)
      for (int64_t m : ms)
        for (size_t ti = 1; ti < tcounts.size(); ++ti) {
          std::fprintf(table, "%-11s %5lld %8d", s.name().c_str(), static_cast<long long>(m), tcounts[ti]);
          for (const char* impl : kImpls) {
            const Row* a = find(s.name(), m, impl, t0);
            const Row* b = find(s.name(), m, impl, tcounts[ti]);
            if (!a || !b) {
              std::fprintf(table, " %12s", "-");
              continue;
            }
            const double ratio = b->gops / a->gops;
            std::fprintf(table, " %11.2fx", ratio);
            scaling_json += std::string(scaling_json.empty() ? "" : ", ") + "{\"shape\": \"" + s.name() +
                            "\", \"m\": " + std::to_string(m) + ", \"impl\": \"" + impl +
                            "\", \"threads\": " + std::to_string(tcounts[ti]) +
                            ", \"base_threads\": " + std::to_string(t0) + ", \"ratio\": " + json_number(ratio, 4) + "}";
          }
          std::fprintf(table, "\n");
        }
  }

  // Online transform + activation quantization (4 bits, b = 128) of X [M×K], as a share of the W4A4 linear
  // time (transform + quantize + GEMM): per GEMM with one consumer (o_proj: K = 4096 → 4096; down_proj:
  // K = 11008 → 4096), per input site (q/k/v: 3 GEMMs share one transformed X; gate/up: 2), and for a whole
  // LLaMA-2-7B decoder block (7 GEMMs, 4 transformed inputs: q/k/v, o, gate/up at K = 4096, down at 11008),
  // at every thread count.
  std::string transform_json, transform_by_threads;  // shares in percent
  for (int nt : tcounts) {
    const Shape& sq = shapes[0];
    const Shape& up = shapes[1];
    const Shape& down = shapes[2];
    const std::string suffix = "/" + std::to_string(tM) + "/" + std::to_string(nt);
    const TransformTimes& t4 = tt.at({sq.k, nt});
    const double g_sq = w4a4_seconds.at(sq.name() + suffix);
    const double g_up = w4a4_seconds.at(up.name() + suffix);
    const double g_down = w4a4_seconds.at(down.name() + suffix);
    const double t_down = tt.at({down.k, nt}).int16;
    auto share = [](double t, double gemm) { return 100.0 * t / (t + gemm); };
    const std::string j =
        "{\"m\": " + std::to_string(tM) + ", \"threads\": " + std::to_string(nt) +
        ", \"block\": 128, \"inputs\": [{\"k\": " + std::to_string(sq.k) + ", \"ms\": " + json_number(t4.int16 * 1e3) +
        "}, {\"k\": " + std::to_string(down.k) + ", \"ms\": " + json_number(t_down * 1e3) +
        "}], \"share_o_proj\": " + json_number(share(t4.int16, g_sq), 2) +
        ", \"share_down_proj\": " + json_number(share(t_down, g_down), 2) +
        ", \"share_decoder_block\": " + json_number(share(3 * t4.int16 + t_down, 4 * g_sq + 2 * g_up + g_down), 2) +
        "}";
    if (transform_json.empty()) transform_json = j;
    transform_by_threads += (transform_by_threads.empty() ? "" : ", ") + j;
    std::fprintf(
        table,
        "\nOnline transform + quantization, X [%lld×K] → 4 bits, b = 128 (W4A4 linear = it + GEMM), %d thread%s\n",
        static_cast<long long>(tM), nt, nt == 1 ? "" : "s");
    std::fprintf(table, "  K = %-6lld quantize only          %8.3f ms\n", static_cast<long long>(sq.k), t4.quant * 1e3);
    std::fprintf(table, "  K = %-6lld transform + quantize   %8.3f ms  (int16 rotations, kernels::Int16Rotation)\n",
                 static_cast<long long>(sq.k), t4.int16 * 1e3);
    std::fprintf(table, "  K = %-6lld the same, fp32 exact   %8.3f ms  (share %.1f%% of one %s GEMM)\n",
                 static_cast<long long>(sq.k), t4.fp32 * 1e3, share(t4.fp32, g_sq), sq.name().c_str());
    std::fprintf(table, "  K = %-6lld transform + quantize   %8.3f ms\n", static_cast<long long>(down.k), t_down * 1e3);
    std::fprintf(table, "  share, one consumer, %-11s (o_proj):     %5.1f%%  (plain quantization: %.1f%%)\n",
                 sq.name().c_str(), share(t4.int16, g_sq), share(t4.quant, g_sq));
    std::fprintf(table, "  share, one consumer, %-11s (down_proj):  %5.1f%%\n", down.name().c_str(),
                 share(t_down, g_down));
    std::fprintf(table, "  share per site, q/k/v (3 GEMMs %s):      %5.1f%%\n", sq.name().c_str(),
                 share(t4.int16, 3 * g_sq));
    std::fprintf(table, "  share per site, gate/up (2 GEMMs %s):   %5.1f%%\n", up.name().c_str(),
                 share(t4.int16, 2 * g_up));
    std::fprintf(table, "  share of a LLaMA-2-7B decoder block's linears (7 GEMMs, 4 inputs): %5.1f%%\n",
                 share(3 * t4.int16 + t_down, 4 * g_sq + 2 * g_up + g_down));
  }

  if (o.json) {
    std::string j =
        "{\"threads\": [" + tlist + "], \"clock\": \"" + std::string(wall_clock() ? "wall" : "cpu") + "\", \"gemm\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j += (i ? ", " : "") + std::string("{\"shape\": \"") + r.shape + "\", \"m\": " + std::to_string(r.m) +
           ", \"impl\": \"" + r.impl + "\", \"threads\": " + std::to_string(r.threads) +
           ", \"gops\": " + json_number(r.gops) + "}";
    }
    j += "], \"scaling\": [" + scaling_json + "], \"transform\": " + transform_json + ", \"transform_by_threads\": [" +
         transform_by_threads + "]}";
    std::printf("%s\n", j.c_str());
  }
}

}  // namespace duq::tools
