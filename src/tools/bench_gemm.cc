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
  ensure_openblas_kernels();
  const int cpu = pin_single_thread(o.core);
  const std::vector<Shape> shapes = o.quick ? std::vector<Shape>{{512, 512}, {1376, 512}, {512, 1376}}
                                            : std::vector<Shape>{{4096, 4096}, {11008, 4096}, {4096, 11008}};
  const std::vector<int64_t> ms = o.quick ? std::vector<int64_t>{1, 64} : std::vector<int64_t>{1, 512};
  const int reps = o.quick ? 1 : o.reps;
  const double min_s = o.quick ? 0.0 : o.min_seconds;
  std::FILE* table = o.json ? stderr : stdout;
  use_wall_clock(o.wall);
  std::fprintf(stderr, "bench gemm: pinned to CPU %d, one thread, ISA %s, OpenBLAS %s, median of %d repetitions, %s\n",
               cpu, k::isa_name(k::active_isa()), openblas_core(), reps, clock_name());

  // Per (shape, M) every implementation is timed interleaved (median_seconds_interleaved), so the ratios
  // compare like with like. At the largest M the online transform + quantization of the GEMM's input X [M×K]
  // joins the same interleave, once per K (4096 at the first shape, 11008 at the third): its share of the
  // W4A4 linear time is a ratio too.
  const int64_t tM = ms.back();
  struct TransformTimes {
    double quant = 0, int16 = 0, fp32 = 0;  // seconds: quantize only, transform + quantize (int16 / fp32 exact)
  };
  std::map<int64_t, TransformTimes> tt;  // by K
  k::QuantActs tq;
  std::vector<Row> rows;
  std::map<std::string, double> w4a4_seconds;  // "NxK/m" → s
  for (const Shape& s : shapes) {
    const Mat w = random_matrix(s.n, s.k, 2);
    std::map<int, k::PackedWeights> packed;
    for (int bits : {4, 8}) packed.emplace(bits, k::quantize_pack_weights(w, bits, 1.f));
    for (int64_t m : ms) {
      const Mat x = random_matrix(m, s.k, 1);
      Mat y(m, s.n);
      const double ops = 2.0 * static_cast<double>(m) * static_cast<double>(s.n) * static_cast<double>(s.k);
      std::vector<std::string> names;
      std::vector<std::function<void()>> fns;
      std::map<int, k::QuantActs> acts;  // by activation bits
      for (int ab : {4, 8}) k::quantize_acts(x, ab, 1.f, acts[ab]);
      for (auto [wb, ab, name] : {std::tuple{4, 4, "w4a4"}, std::tuple{4, 8, "w4a8"}, std::tuple{8, 8, "w8a8"}}) {
        names.push_back(name);
        fns.push_back([&, wb = wb, ab = ab] { k::int_gemm(acts.at(ab), packed.at(wb), y); });
      }
      names.push_back("f32_openblas");
      fns.push_back([&] {
        if (m == 1)
          cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(s.n), static_cast<int>(s.k), 1.f, w.data(),
                      static_cast<int>(s.k), x.data(), 1, 0.f, y.data(), 1);
        else
          k::matmul_xwt(x, w, y);
      });
#if defined(DUQ_HAVE_DNNL)
      DnnlS8Matmul dnnl(m, s.n, s.k);
      names.push_back("s8_onednn");
      fns.push_back([&] { dnnl.run(); });
#endif
      const size_t n_gemm = fns.size();
      const bool with_transform = m == tM && !tt.count(s.k);
      std::unique_ptr<TransformFixture> tf;
      if (with_transform) {
        tf = std::make_unique<TransformFixture>(s.k, std::min<int64_t>(128, s.k));
        fns.push_back([&] { k::quantize_acts(x, 4, 0.9f, tq); });
        fns.push_back([&] { k::transform_quantize_acts(x, tf->ti, 4, 0.9f, tq); });
        fns.push_back([&] { k::transform_quantize_acts(x, tf->t, 4, 0.9f, tq); });
      }
      const std::vector<double> sec = median_seconds_interleaved(fns, reps, min_s);
      for (size_t i = 0; i < n_gemm; ++i) {
        rows.push_back({s.name(), m, names[i], ops / sec[i] * 1e-9, sec[i]});
        std::fprintf(stderr, "  %-11s M=%-4lld %-13s %8.2f GOP/s  (%.3f ms)\n", s.name().c_str(),
                     static_cast<long long>(m), names[i].c_str(), ops / sec[i] * 1e-9, sec[i] * 1e3);
      }
      w4a4_seconds[s.name() + "/" + std::to_string(m)] = sec[0];
      if (with_transform) tt[s.k] = {sec[n_gemm], sec[n_gemm + 1], sec[n_gemm + 2]};
    }
  }

  // Table: one line per (shape, M); ratios of ours against fp32 and oneDNN at the same shape.
  auto find = [&](const std::string& shape, int64_t m, const std::string& impl) -> const Row* {
    for (const Row& r : rows)
      if (r.shape == shape && r.m == m && r.impl == impl) return &r;
    return nullptr;
  };
  std::fprintf(table, "\nGEMM GOP/s (2·M·N·K / time; single thread), shape N×K\n");
  std::fprintf(table, "%-11s %5s %9s %9s %9s %9s %9s | %-23s | %-23s\n", "N×K", "M", "w4a4", "w4a8", "w8a8",
               "f32", "s8_onednn", "ours/f32 (4a4 4a8 8a8)", "ours/oneDNN (4a4 4a8 8a8)");
  for (const Shape& s : shapes)
    for (int64_t m : ms) {
      double g[5] = {0, 0, 0, 0, 0};
      for (int i = 0; i < 5; ++i)
        if (const Row* r = find(s.name(), m, kImpls[i])) g[i] = r->gops;
      std::fprintf(table, "%-11s %5lld %9.1f %9.1f %9.1f %9.1f %9.1f | %6.2f %6.2f %6.2f    | %6.2f %6.2f %6.2f\n",
                   s.name().c_str(), static_cast<long long>(m), g[0], g[1], g[2], g[3], g[4], g[0] / g[3],
                   g[1] / g[3], g[2] / g[3], g[4] > 0 ? g[0] / g[4] : 0., g[4] > 0 ? g[1] / g[4] : 0.,
                   g[4] > 0 ? g[2] / g[4] : 0.);
    }
#if !defined(DUQ_HAVE_DNNL)
  std::fprintf(table, "(built without oneDNN: s8_onednn not measured)\n");
#endif

  // Online transform + activation quantization (4 bits, b = 128) of X [M×K], as a share of the W4A4 linear
  // time (transform + quantize + GEMM): per GEMM with one consumer (o_proj: K = 4096 → 4096; down_proj:
  // K = 11008 → 4096), per input site (q/k/v: 3 GEMMs share one transformed X; gate/up: 2), and for a whole
  // LLaMA-2-7B decoder block (7 GEMMs, 4 transformed inputs: q/k/v, o, gate/up at K = 4096, down at 11008).
  std::string transform_json;  // shares in percent
  {
    const Shape& sq = shapes[0];
    const Shape& up = shapes[1];
    const Shape& down = shapes[2];
    const TransformTimes& t4 = tt.at(sq.k);
    const double g_sq = w4a4_seconds.at(sq.name() + "/" + std::to_string(tM));
    const double g_up = w4a4_seconds.at(up.name() + "/" + std::to_string(tM));
    const double g_down = w4a4_seconds.at(down.name() + "/" + std::to_string(tM));
    const double t_down = tt.at(down.k).int16;
    auto share = [](double t, double gemm) { return 100.0 * t / (t + gemm); };
    transform_json = "{\"m\": " + std::to_string(tM) + ", \"block\": 128, \"inputs\": [{\"k\": " + std::to_string(sq.k) +
                     ", \"ms\": " + json_number(t4.int16 * 1e3) + "}, {\"k\": " + std::to_string(down.k) +
                     ", \"ms\": " + json_number(t_down * 1e3) + "}], \"share_o_proj\": " +
                     json_number(share(t4.int16, g_sq), 2) + ", \"share_down_proj\": " +
                     json_number(share(t_down, g_down), 2) + ", \"share_decoder_block\": " +
                     json_number(share(3 * t4.int16 + t_down, 4 * g_sq + 2 * g_up + g_down), 2) + "}";
    std::fprintf(table, "\nOnline transform + quantization, X [%lld×K] → 4 bits, b = 128 (W4A4 linear = it + GEMM)\n",
                 static_cast<long long>(tM));
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
    std::string j = "{\"gemm\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j += (i ? ", " : "") + std::string("{\"shape\": \"") + r.shape + "\", \"m\": " + std::to_string(r.m) +
           ", \"impl\": \"" + r.impl + "\", \"gops\": " + json_number(r.gops) + "}";
    }
    j += "], \"transform\": " + transform_json + "}";
    std::printf("%s\n", j.c_str());
  }
}

}  // namespace duq::tools
