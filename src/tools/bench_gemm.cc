#include "tools/bench_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <map>
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

#if defined(DUQ_HAVE_DNNL)
double time_dnnl_s8(int64_t m, int64_t n, int64_t kk, int reps, double min_s, std::string& impl_info) {
  DnnlS8Matmul mm(m, n, kk);
  impl_info = mm.impl_info();
  return median_seconds([&] { mm.run(); }, reps, min_s);
}
#endif

// DuQuant's activation transform at block b: Λ⁻¹, R̂₁, a random permutation, R̂₂ (random dense blocks: the
// cost does not depend on the values).
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
      auto add = [&](const std::string& impl, double sec) {
        rows.push_back({s.name(), m, impl, ops / sec * 1e-9, sec});
        std::fprintf(stderr, "  %-11s M=%-4lld %-13s %8.2f GOP/s  (%.3f ms)\n", s.name().c_str(),
                     static_cast<long long>(m), impl.c_str(), ops / sec * 1e-9, sec * 1e3);
      };
      for (auto [wb, ab, name] : {std::tuple{4, 4, "w4a4"}, std::tuple{4, 8, "w4a8"}, std::tuple{8, 8, "w8a8"}}) {
        k::QuantActs qa;
        k::quantize_acts(x, ab, 1.f, qa);
        const k::PackedWeights& pw = packed.at(wb);
        const double sec = median_seconds([&] { k::int_gemm(qa, pw, y); }, reps, min_s);
        if (std::string(name) == "w4a4") w4a4_seconds[s.name() + "/" + std::to_string(m)] = sec;
        add(name, sec);
      }
      add("f32_openblas", median_seconds(
                              [&] {
                                if (m == 1)
                                  cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(s.n),
                                              static_cast<int>(s.k), 1.f, w.data(), static_cast<int>(s.k),
                                              x.data(), 1, 0.f, y.data(), 1);
                                else
                                  k::matmul_xwt(x, w, y);
                              },
                              reps, min_s));
#if defined(DUQ_HAVE_DNNL)
      std::string info;
      add("s8_onednn", time_dnnl_s8(m, s.n, s.k, reps, min_s, info));
#endif
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

  // Online transform + activation quantization (4 bits, b = 128) at M = 512 rows of K = 4096 inputs, as a
  // share of the W4A4 linear time: per GEMM (one consumer) and per input site (one transformed activation
  // feeding q/k/v = 3 GEMMs N = 4096, or gate/up = 2 GEMMs N = 11008).
  {
    const int64_t M = ms.back(), K = shapes[0].k, b = std::min<int64_t>(128, K);
    const Mat x = random_matrix(M, K, 1);
    TransformFixture f(K, b);
    k::QuantActs q;
    const double t_q = median_seconds([&] { k::quantize_acts(x, 4, 0.9f, q); }, reps, min_s);
    const double t_tq = median_seconds([&] { k::transform_quantize_acts(x, f.ti, 4, 0.9f, q); }, reps, min_s);
    const double t_tf = median_seconds([&] { k::transform_quantize_acts(x, f.t, 4, 0.9f, q); }, reps, min_s);
    const double g_sq = w4a4_seconds.at(shapes[0].name() + "/" + std::to_string(M));
    const double g_up = w4a4_seconds.at(shapes[1].name() + "/" + std::to_string(M));
    auto share = [](double tq, double gemm) { return 100.0 * tq / (tq + gemm); };
    std::fprintf(table, "\nOnline transform + quantization, X [%lld×%lld] → 4 bits, b = %lld (W4A4 linear = it + GEMM)\n",
                 static_cast<long long>(M), static_cast<long long>(K), static_cast<long long>(b));
    std::fprintf(table, "  quantize only          %8.3f ms\n", t_q * 1e3);
    std::fprintf(table, "  transform + quantize   %8.3f ms  (int16 rotations, kernels::Int16Rotation)\n", t_tq * 1e3);
    std::fprintf(table, "  the same, fp32 exact   %8.3f ms  (share %.1f%%)\n", t_tf * 1e3, share(t_tf, g_sq));
    std::fprintf(table, "  share, one consumer (1 GEMM %s):            %5.1f%%  (plain quantization: %.1f%%)\n",
                 shapes[0].name().c_str(), share(t_tq, g_sq), share(t_q, g_sq));
    std::fprintf(table, "  share per site, q/k/v (3 GEMMs %s):         %5.1f%%\n", shapes[0].name().c_str(),
                 share(t_tq, 3 * g_sq));
    std::fprintf(table, "  share per site, gate/up (2 GEMMs %s):      %5.1f%%\n", shapes[1].name().c_str(),
                 share(t_tq, 2 * g_up));
  }

  if (o.json) {
    std::string j = "{\"gemm\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j += (i ? ", " : "") + std::string("{\"shape\": \"") + r.shape + "\", \"m\": " + std::to_string(r.m) +
           ", \"impl\": \"" + r.impl + "\", \"gops\": " + json_number(r.gops) + "}";
    }
    j += "]}";
    std::printf("%s\n", j.c_str());
  }
}

}  // namespace duq::tools
