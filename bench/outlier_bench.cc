// The paper's ordering at LLaMA-2-7B block shapes (dim 4096, hidden 11008, 32 heads; vocab 1000, 2 blocks)
// with planted normal and massive outliers (model/outliers.h), W4A4: per method the relative output error of
// each linear input's consumers (SiteReport::output_rel_error, on the search sequence) — the down projection
// above all — and the KL divergence / top-1 agreement to the float model (eval::compare_models) on random-token
// windows containing the trigger tokens; plus max |x| at the down-projection input before and after each
// method's transform.
//
// Not a Google Benchmark timing loop: one run printing a table. Options as key=value arguments:
//   dim=4096 hidden=11008 heads=32 layers=2 vocab=1000 channels=8 scale=20 gamma=0 massive=500 rate=0.02
//   calib=16 ctx=256 evalw=4 evalctx=256 steps=256 block=128 lac=0.9 swc=0.8 wbits=4 abits=4 seed=1 threads=1
//   methods=rtn,smoothquant,rotation,duquant   lwcepochs=20 ntepochs=10
// A method may carry modifiers after '/', each separated by '/': nt (--norm-tweak), kc (--k-center), wN
// (--wide-channels N), e.g. methods=duquant,duquant/kc,duquant/w128,duquant+lwc/nt.
// Run: OPENBLAS_CORETYPE=SkylakeX build/bench/bench_outlier_bench [key=value ...]
//
// Measured with the defaults (8 normal channels ×20, massive ×500 at ids 1,13,29, trigger rate 2%, 16 × 256
// calibration tokens, 4 × 256 evaluation tokens, 256 steps; shared 2-core box, 21 min):
//   method       DownIn rel err (layer 0 / 1)   KLD     top-1   down max|x| before → after G
//   rtn          0.4875 / 0.4810                0.2856  0.164   216.9
//   smoothquant  0.3568 / 0.3430                0.1147  0.336   1.85 (after smoothing)
//   rotation     0.1752 / 0.1785                0.0485  0.529   297.4 → 10.9
//   duquant      0.1583 / 0.1553                0.0337  0.597   1.77 (after smoothing) → 0.37
// DuQuant's down-projection error is 3.1× below RTN's, not 10×: at W4A4 per-channel weights (swc 0.8) alone
// cost DuQuant ~0.07–0.1 (W4A16 on the scaled-down model: 0.074), and RTN's error is bounded (~0.3–0.5)
// because per-token activation quantization confines a massive token's damage to its own row.
// Down/tok is the same error per token (RMS over tokens of ‖ŷ_t − y_t‖/‖y_t‖), which no few tokens dominate.
// Where the floor is (dim 1024 / hidden 2752, 2 layers, 128 steps; DownIn error layer 0 / 1, Frobenius):
//   W16A4 (activations only): rtn 0.352 / 0.363, duquant 0.078 / 0.076 — DuQuant's own 4-bit activation
//     error is already ~0.08, so 10× would need RTN ≥ 0.8, i.e. RTN losing nearly the whole output;
//   W4A16 (weights only):     rtn 0.112 / 0.113, duquant 0.070 / 0.073;
//   W4A4: γ = 0 ×20: rtn 0.367 / 0.375, duquant 0.104 / 0.103 (3.5×); γ = 0.5: 0.391 / 0.511 vs 0.076 / 0.147;
//     γ = 1 ×50 without massive outliers (RTN keeps only the outlier channels, which carry no output):
//     rtn 0.908 / 0.776 vs duquant 0.171 / 0.170 (5.3× / 4.6×; per token 0.457 / 0.423 vs 0.171 / 0.170).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "calib/pipeline.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/threads.h"
#include "eval/compare.h"
#include "kernels/gemm_f32.h"
#include "model/outliers.h"
#include "model/synthetic.h"

#include "key_value_args.h"

namespace duq::bench {
namespace {

using Args = KeyValueArgs;

float max_of(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, x);
  return m;
}

int run(const Args& a) {
  duq::set_threads(static_cast<int>(a.num("threads", 1)));
  model::ModelConfig c = llama7b_block_config(a, 2048);
  const uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));

  Timer t0;
  model::ModelWeights w = model::random_weights(c, seed);
  model::OutlierSpec spec;
  spec.channels = static_cast<int>(a.num("channels", 8));
  spec.scale = static_cast<float>(a.num("scale", 20));
  spec.weight_compensation = static_cast<float>(a.num("gamma", 0));
  spec.massive_scale = static_cast<float>(a.num("massive", 500));
  if (spec.massive_scale > 0) spec.massive_tokens = {1, 13, 29};  // BOS and two "delimiters"
  spec.seed = seed;
  const model::OutlierPlan plan = model::plant_outliers(c, w, spec);
  std::printf("model: %s\noutliers: %s; massive residual channel %d, gate/up %.2f, median |act| %.3f (%.1f s)\n",
              c.summary().c_str(), spec.describe().c_str(), plan.massive_channel, plan.gate_value, plan.median_act,
              t0.seconds());
  const model::MemoryWeights src(c, std::move(w));
  const std::vector<int> inner = {13, 29};
  const double rate = a.num("rate", 0.02);
  const auto calib = model::trigger_windows(static_cast<int>(a.num("calib", 16)), static_cast<int>(a.num("ctx", 256)),
                                            c.vocab_size, c.bos_id, inner, rate, 2);
  const int evalw = static_cast<int>(a.num("evalw", 4)), evalctx = static_cast<int>(a.num("evalctx", 256));
  std::vector<int> stream;  // windows back to back, each starting with BOS (paper protocol slices them apart)
  for (const auto& win : model::trigger_windows(evalw, evalctx, c.vocab_size, c.bos_id, inner, rate, 3))
    stream.insert(stream.end(), win.begin(), win.end());

  // The float model's logits of each evaluation window, computed once (keyed by the window's tokens).
  std::map<std::vector<int>, Mat> fp_logits;
  {
    const calib::QuantizedModel fp = calib::float_model(src);
    for (size_t off = 0; off + evalctx <= stream.size(); off += static_cast<size_t>(evalctx)) {
      model::KVCache kc(c, evalctx);
      const auto win = std::span<const int>(stream).subspan(off, static_cast<size_t>(evalctx));
      fp_logits[std::vector<int>(win.begin(), win.end())] = fp.forward(win, 0, kc);
    }
  }
  const eval::WindowLogitsFn fp_fn = [&](std::span<const int> win) {
    auto it = fp_logits.find(std::vector<int>(win.begin(), win.end()));
    if (it == fp_logits.end()) fail("outlier_bench: evaluation window not among the cached ones");
    return it->second;
  };
  auto logits_of = [&c](const calib::QuantizedModel& m) {
    return [&c, &m](std::span<const int> win) {
      model::KVCache kc(c, static_cast<int>(win.size()));
      return m.forward(win, 0, kc);
    };
  };
  eval::PplOptions po;
  po.ctx = evalctx;
  po.progress = false;

  std::printf(
      "\nW%dA%d, lac %.2f, swc %.2f, block %d, steps %d, calibration %zu x %zu tokens (trigger rate %.3f), "
      "eval %d x %d tokens\n",
      static_cast<int>(a.num("wbits", 4)), static_cast<int>(a.num("abits", 4)), a.num("lac", 0.9), a.num("swc", 0.8),
      static_cast<int>(a.num("block", 128)), static_cast<int>(a.num("steps", 256)), calib.size(), calib[0].size(), rate,
      evalw, evalctx);
  std::printf("%-16s %-6s %9s %9s %9s %9s %9s | %10s %10s | %8s %8s %8s %7s\n", "method", "layer", "AttnIn", "AttnOut",
              "FfnIn", "DownIn", "Down/tok", "down max", "after G", "KLD", "top1", "ppl", "calib s");
  std::stringstream ms(a.str("methods", "rtn,smoothquant,rotation,duquant"));
  std::string name;
  double fp_ppl = 0;
  while (std::getline(ms, name, ',')) {
    calib::QuantOptions o;
    std::stringstream parts(name);
    std::string part;
    std::getline(parts, part, '/');
    o.method = calib::parse_method(part);
    while (std::getline(parts, part, '/')) {
      if (part == "nt") o.norm_tweak = true;
      else if (part == "kc") o.k_center = true;
      else if (part.size() > 1 && part[0] == 'w') o.wide_channels = std::atoi(part.c_str() + 1);
      else fail("outlier_bench: unknown method modifier '", part, "' in ", name, " (nt, kc or wN)");
    }
    o.lwc_epochs = static_cast<int>(a.num("lwcepochs", 20));
    o.norm_tweak_epochs = static_cast<int>(a.num("ntepochs", 10));
    o.steps = static_cast<int>(a.num("steps", 256));
    o.block = static_cast<int>(a.num("block", 128));
    o.lac = static_cast<float>(a.num("lac", 0.9));
    o.swc = static_cast<float>(a.num("swc", 0.8));
    o.wbits = static_cast<int>(a.num("wbits", 4));
    o.abits = static_cast<int>(a.num("abits", 4));
    o.progress = false;
    o.validate();
    const calib::QuantizedModel q = calib::quantize_model(src, calib, o);
    const auto r = eval::compare_models(stream, c.bos_id, fp_fn, {logits_of(q)}, po);
    fp_ppl = r[0].ppl;
    for (int l = 0; l < c.n_layers; ++l) {
      const auto& rep = q.report[static_cast<size_t>(l)];
      const auto& down = rep[static_cast<size_t>(model::Site::DownIn)];
      std::printf("%-16s %-6d %9.4f %9.4f %9.4f %9.4f %9.4f | %10.2f %10.2f", name.c_str(), l, rep[0].output_rel_error,
                  rep[1].output_rel_error, rep[2].output_rel_error, down.output_rel_error, down.output_token_rel_error,
                  max_of(down.absmax_before), max_of(down.absmax_after));
      if (l == 0) std::printf(" | %8.4f %8.3f %8.2f %7.1f\n", r[1].kld, r[1].top1_agree, r[1].ppl, q.calib_seconds);
      else std::printf("\n");
    }
    std::fflush(stdout);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("float ppl %.2f; peak RSS %.2f GB; total %.1f s\n", fp_ppl, ru.ru_maxrss / 1048576.0, t0.seconds());
  return 0;
}

}  // namespace
}  // namespace duq::bench

int main(int argc, char** argv) {
  return duq::bench::run_with_key_value_args(argc, argv, "bench/outlier_bench.cc", duq::bench::run);
}
