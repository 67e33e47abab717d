#include "tools/bench_e2e.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "calib/export.h"
#include "calib/pipeline.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/peak_rss.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/stage_clock.h"
#include "core/threads.h"
#include "formats/dtype.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"
#include "model/hf_source.h"
#include "model/int_engine.h"
#include "model/quant_model.h"
#include "tools/bench_common.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;

// Random weights generated one tensor at a time from (seed, tensor index), so the quantization pipeline can
// read one block at a time without the whole float model in memory. Uniform with the standard deviations of
// model::random_weights (speed does not depend on the distribution; uniform is several times faster to draw).
class SynthSource : public model::WeightSource {
 public:
  explicit SynthSource(model::ModelConfig c) : c_(std::move(c)) {}
  const model::ModelConfig& config() const override { return c_; }
  std::string description() const override { return "synthetic " + c_.summary(); }
  Mat embedding() const override { return draw(c_.vocab_size, c_.dim, 1.0, 0); }
  model::LayerWeights layer(int l) const override {
    const int64_t D = c_.dim, H = c_.hidden_dim, Q = c_.q_dim(), K = c_.kv_dim();
    const double in_d = 1.0 / std::sqrt(double(D)), branch = 1.0 / std::sqrt(2.0 * c_.n_layers);
    const uint64_t i = 1 + 7 * static_cast<uint64_t>(l);
    model::LayerWeights w;
    w.attn_norm.assign(static_cast<size_t>(D), 1.f);
    w.ffn_norm.assign(static_cast<size_t>(D), 1.f);
    w.wq = draw(Q, D, in_d, i);
    w.wk = draw(K, D, in_d, i + 1);
    w.wv = draw(K, D, in_d, i + 2);
    w.wo = draw(D, Q, branch / std::sqrt(double(Q)), i + 3);
    w.w_gate = draw(H, D, in_d, i + 4);
    w.w_up = draw(H, D, in_d, i + 5);
    w.w_down = draw(D, H, branch / std::sqrt(double(H)), i + 6);
    return w;
  }
  Vec final_norm() const override { return Vec(static_cast<size_t>(c_.dim), 1.f); }
  Mat lm_head() const override { return draw(c_.vocab_size, c_.dim, 1.0 / std::sqrt(double(c_.dim)), 1000000); }

 private:
  static Mat draw(int64_t rows, int64_t cols, double stddev, uint64_t index) {
    Rng rng(0x5eed + index * 0x9e3779b97f4a7c15ULL);
    Mat m(rows, cols);
    const float a = static_cast<float>(stddev * std::sqrt(3.0));  // U(−a, a) has stddev a/√3
    for (float& v : m.flat()) v = a * static_cast<float>(2.0 * rng.uniform() - 1.0);
    return m;
  }
  model::ModelConfig c_;
};

std::vector<int> random_tokens(int n, int vocab, uint64_t seed) {
  Rng r(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (auto& x : t) x = 3 + static_cast<int>(r.below(static_cast<uint64_t>(vocab - 3)));
  return t;
}

struct Speed {
  double prefill_tps = 0, decode_tps = 0;
};

using ForwardFn = std::function<Mat(std::span<const int>, int, model::KVCache&, bool)>;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Prefill and decode speed at every thread count of o.threads: repetition r runs each count in turn, so the
// scaling ratios are paired on a shared machine. One Speed per thread count.
std::vector<Speed> measure(const std::string& name, const model::ModelConfig& c, const ForwardFn& fwd,
                           const E2eBenchOptions& o) {
  const auto prefill = random_tokens(o.prefill, c.vocab_size, 11);
  const auto seq = random_tokens(o.prompt + o.decode, c.vocab_size, 12);
  model::KVCache cache(c, std::max(o.prefill, o.prompt + o.decode));
  const size_t nt = o.threads.size();
  std::vector<std::vector<double>> pre(nt), dec(nt);
  for (int r = 0; r < std::max(1, o.reps); ++r)
    for (size_t ti = 0; ti < nt; ++ti) {
      set_threads(o.threads[ti]);
      double t0 = bench_now();
      fwd(prefill, 0, cache, /*last_only=*/true);
      pre[ti].push_back(bench_now() - t0);
      std::fprintf(stderr, "  %s, %d thread%s: prefill %d tokens: %.2f s (%.1f tok/s)\n", name.c_str(), o.threads[ti],
                   o.threads[ti] == 1 ? "" : "s", o.prefill, pre[ti].back(), o.prefill / pre[ti].back());
      fwd(std::span<const int>(seq.data(), static_cast<size_t>(o.prompt)), 0, cache, true);
      t0 = bench_now();
      for (int i = 0; i < o.decode; ++i)
        fwd(std::span<const int>(&seq[static_cast<size_t>(o.prompt) + static_cast<size_t>(i)], 1), o.prompt + i, cache,
            true);
      dec[ti].push_back(bench_now() - t0);
      std::fprintf(stderr, "  %s, %d thread%s: decode %d tokens after a %d-token prompt: %.2f s (%.2f tok/s)\n",
                   name.c_str(), o.threads[ti], o.threads[ti] == 1 ? "" : "s", o.decode, o.prompt, dec[ti].back(),
                   o.decode / dec[ti].back());
    }
  std::vector<Speed> out(nt);
  for (size_t ti = 0; ti < nt; ++ti) {
    out[ti].prefill_tps = o.prefill / median(pre[ti]);
    out[ti].decode_tps = o.decode / median(dec[ti]);
  }
  return out;
}

using BatchFn = std::function<Mat(std::span<const model::SeqChunk>)>;

// Batched decode, as `serve` steps it: B sequences, each prefilled with its own `prompt` tokens, then `decode`
// steps of one token per sequence in one forward_batch call (M = B in every linear). Aggregate tokens/s per
// count of o.batch (interleaved over o.reps, at the first thread count); with o.stages, each stage's wall time
// per step in the median repetition printed beside.
struct BatchSpeed {
  int batch = 0;
  double tps = 0;
  std::array<double, stage_clock::kNumStages> stage_ms{};  // per decode step
};

std::vector<BatchSpeed> measure_batched(const std::string& name, const model::ModelConfig& c, const BatchFn& fwd,
                                        const E2eBenchOptions& o) {
  set_threads(o.threads.front());
  const size_t nb = o.batch.size();
  std::vector<std::vector<double>> secs(nb);
  std::vector<std::vector<std::array<double, stage_clock::kNumStages>>> stages(nb);
  for (int r = 0; r < std::max(1, o.reps); ++r)
    for (size_t bi = 0; bi < nb; ++bi) {
      const int B = o.batch[bi];
      std::vector<model::KVCache> caches;
      caches.reserve(static_cast<size_t>(B));
      std::vector<std::vector<int>> seqs;
      for (int b = 0; b < B; ++b) {
        caches.emplace_back(c, o.prompt + o.decode);
        seqs.push_back(random_tokens(o.prompt + o.decode, c.vocab_size, 1000 + static_cast<uint64_t>(b)));
      }
      std::vector<model::SeqChunk> chunks(static_cast<size_t>(B));
      for (int b = 0; b < B; ++b)
        chunks[static_cast<size_t>(b)] = {
            std::span<const int>(seqs[static_cast<size_t>(b)].data(), static_cast<size_t>(o.prompt)), 0,
            &caches[static_cast<size_t>(b)], false};
      fwd(chunks);
      stage_clock::reset();
      stage_clock::use_cpu_time(!wall_clock());
      stage_clock::enable(o.stages);
      const double t0 = bench_now();
      for (int i = 0; i < o.decode; ++i) {
        for (int b = 0; b < B; ++b)
          chunks[static_cast<size_t>(b)] = {
              std::span<const int>(
                  &seqs[static_cast<size_t>(b)][static_cast<size_t>(o.prompt) + static_cast<size_t>(i)], 1),
              o.prompt + i, &caches[static_cast<size_t>(b)], false};
        fwd(chunks);
      }
      secs[bi].push_back(bench_now() - t0);
      stage_clock::enable(false);
      stages[bi].push_back(stage_clock::totals());
      std::fprintf(stderr, "  %s, batch %d: decode %d steps after %d-token prompts: %.2f s (%.2f tok/s aggregate)\n",
                   name.c_str(), B, o.decode, o.prompt, secs[bi].back(),
                   static_cast<double>(B) * o.decode / secs[bi].back());
    }
  // Speed and stages both come from the median repetition (the upper one of an even count), so the stages account
  // for the very step they are printed beside: separate medians per stage could sum to more than the step.
  std::vector<BatchSpeed> out(nb);
  for (size_t bi = 0; bi < nb; ++bi) {
    std::vector<size_t> order(secs[bi].size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return secs[bi][a] < secs[bi][b]; });
    const size_t mid = order[order.size() / 2];
    out[bi].batch = o.batch[bi];
    out[bi].tps = static_cast<double>(o.batch[bi]) * o.decode / secs[bi][mid];
    for (int s = 0; s < stage_clock::kNumStages; ++s)
      out[bi].stage_ms[static_cast<size_t>(s)] = 1e3 * stages[bi][mid][static_cast<size_t>(s)] / o.decode;
  }
  return out;
}

// The batched table: tokens/s and scaling per batch size for both engines; with o.stages, ms per step by stage.
void print_batched(std::FILE* out, const std::vector<BatchSpeed>& fp, const std::vector<BatchSpeed>& iq,
                   const E2eBenchOptions& o, const std::string& qn) {
  std::fprintf(out,
               "\nBatched decode (forward_batch, %d steps after %d-token prompts, %d thread%s, %s): aggregate tok/s\n",
               o.decode, o.prompt, o.threads.front(), o.threads.front() == 1 ? "" : "s", clock_name());
  std::fprintf(out, "%-8s %12s %12s %10s %10s %10s\n", "batch", "float", (qn + " int").c_str(), (qn + "/fp").c_str(),
               "fp x", (qn + " x").c_str());
  for (size_t i = 0; i < fp.size(); ++i)
    std::fprintf(out, "%-8d %12.2f %12.2f %9.2fx %9.2fx %9.2fx\n", fp[i].batch, fp[i].tps, iq[i].tps,
                 iq[i].tps / fp[i].tps, fp[i].tps / fp.front().tps, iq[i].tps / iq.front().tps);
  if (!o.stages) return;
  for (const auto* engine : {&fp, &iq}) {
    std::fprintf(out, "\n%s engine, ms per decode step by stage (exclusive %s)\n%-22s",
                 engine == &fp ? "float" : (qn + " integer").c_str(), clock_name(), "stage");
    for (const auto& b : *engine) std::fprintf(out, " %9s", ("B=" + std::to_string(b.batch)).c_str());
    std::fprintf(out, "\n");
    auto row = [&](const char* label, const std::function<double(const BatchSpeed&)>& ms) {
      std::fprintf(out, "%-22s", label);
      for (const auto& b : *engine) std::fprintf(out, " %9.2f", ms(b));
      std::fprintf(out, "\n");
    };
    for (int s = 0; s < stage_clock::kNumStages; ++s) {
      const auto at = [s](const BatchSpeed& b) { return b.stage_ms[static_cast<size_t>(s)]; };
      if (std::all_of(engine->begin(), engine->end(), [&](const BatchSpeed& b) { return at(b) == 0; })) continue;
      row(stage_clock::name(static_cast<stage_clock::Stage>(s)), at);
    }
    row("sum of stages",
        [](const BatchSpeed& b) { return std::accumulate(b.stage_ms.begin(), b.stage_ms.end(), 0.0); });
    row("step (measured)", [&](const BatchSpeed& b) { return 1e3 * b.batch * 1.0 / b.tps; });
  }
}

// "batched": [{"batch": B, "float_tps": …, "w4a4_tps": …, "float_stage_ms": {stage: ms per step}, …}, …]
std::string batched_json(const std::vector<BatchSpeed>& fp, const std::vector<BatchSpeed>& iq, bool stages) {
  auto stage_obj = [&](const BatchSpeed& b) {
    std::string s = "{";
    for (int i = 0; i < stage_clock::kNumStages; ++i)
      s += std::string(i ? ", " : "") + "\"" + stage_clock::name(static_cast<stage_clock::Stage>(i)) +
           "\": " + json_number(b.stage_ms[static_cast<size_t>(i)]);
    return s + "}";
  };
  std::string out;
  for (size_t i = 0; i < fp.size(); ++i) {
    out += std::string(i ? ", " : "") + "{\"batch\": " + std::to_string(fp[i].batch) +
           ", \"float_tps\": " + json_number(fp[i].tps) + ", \"w4a4_tps\": " + json_number(iq[i].tps);
    if (stages) out += ", \"float_stage_ms\": " + stage_obj(fp[i]) + ", \"w4a4_stage_ms\": " + stage_obj(iq[i]);
    out += "}";
  }
  return out;
}

}  // namespace

void run_e2e_bench(const E2eBenchOptions& o) {
  if (o.layers < 1 || o.prefill < 1 || o.prompt < 1 || o.decode < 1 || o.reps < 1)
    fail("bench e2e: --layers, --prefill, --prompt, --decode and --reps must be at least 1");
  if (o.threads.empty()) fail("bench e2e: --threads needs at least one count");
  std::error_code ec;
  if (!o.tmp.empty() && !fs::is_directory(o.tmp, ec)) fail("--tmp ", o.tmp, ": not an existing directory");
  const bool multi = *std::max_element(o.threads.begin(), o.threads.end()) > 1;
  // One thread: pinned, process CPU time (as before). Several: unpinned, wall clock.
  const int cpu = multi ? -1 : pin_single_thread(o.core);
  model::ModelConfig c;
  c.dim = o.dim, c.hidden_dim = o.hidden, c.n_layers = o.layers, c.n_heads = o.heads, c.n_kv_heads = o.kv_heads;
  c.vocab_size = o.vocab, c.max_seq_len = std::max({2048, o.prefill, o.prompt + o.decode});
  c.tied_embeddings = false;
  c.rope_layout = model::RopeLayout::RotateHalf;
  c.validate("bench e2e");
  // A fresh folder inside --tmp (which must exist: nothing is created outside it), removed at the end, on
  // failure and on SIGINT/SIGTERM/SIGHUP (StagedDir that is never committed).
  const StagedDir work(fs::path(o.tmp.empty() ? fs::temp_directory_path().string() : o.tmp) / "duquant-bench-e2e");
  const fs::path& dir = work.path();
  use_wall_clock(o.wall || (multi && !o.cpu_time));
  std::string tlist;
  for (int t : o.threads) (tlist += tlist.empty() ? "" : ",") += std::to_string(t);
  std::fprintf(stderr, "bench e2e: %s, %.2f B parameters; %s, ISA %s, OpenBLAS %s, timed by %s\n", c.summary().c_str(),
               c.n_params() / 1e9,
               multi ? ("threads " + tlist + ", not pinned").c_str()
                     : ("pinned to CPU " + std::to_string(cpu) + ", one thread").c_str(),
               kernels::isa_name(kernels::active_isa()), kernels::openblas_core(), clock_name());

  SynthSource src(c);
  const std::string qn = "W" + std::to_string(o.wbits) + "A" + std::to_string(o.abits);  // the integer format's name
  std::vector<Speed> fps, iqs;
  std::vector<BatchSpeed> fp_batch, iq_batch;
  double fp_gemv_tps = 0;
  uintmax_t f32_bytes = 0, gguf_bytes = 0;
  // Weight bytes a decoded token streams: every linear of every block and the classifier (the embedding is one
  // row per token; norms, KV cache and online rotations are small beside them). GB/s = bytes × tokens/s.
  double fp_token_bytes = 0, iq_token_bytes = 0;
  {
    Timer t;
    std::fprintf(stderr, "[1/4] generating float weights ...\n");
    model::Model m(c, src.load_all());
    for (const auto& L : m.weights().layers)
      for (const Mat* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
        fp_token_bytes += 4.0 * static_cast<double>(w->size());
    fp_token_bytes += 4.0 * static_cast<double>(m.weights().classifier().size());
    std::fprintf(stderr, "      %.1f s\n[2/4] float engine\n", t.seconds());
    fps = measure(
        "float", c,
        [&](std::span<const int> tk, int p, model::KVCache& kc, bool last) {
          return m.forward(tk, p, kc, nullptr, last);
        },
        o);
    if (!o.batch.empty())
      fp_batch = measure_batched(
          "float", c, [&](std::span<const model::SeqChunk> ch) { return m.forward_batch(ch); }, o);
    // What a float engine that streams every weight once per token (sgemv, no packing) could reach: the
    // float engine multiplies M = 1 by sgemm, which OpenBLAS 0.3.21 packs first.
    {
      Vec xv(static_cast<size_t>(std::max(c.dim, c.hidden_dim)), 0.01f),
          yv(static_cast<size_t>(std::max(c.vocab_size, c.hidden_dim)));
      auto gemv = [&](const Mat& w) { kernels::matvec(w, xv.data(), yv.data()); };
      set_threads(o.threads.front());
      const double t = median_seconds(
          [&] {
            for (const auto& L : m.weights().layers)
              for (const Mat* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) gemv(*w);
            gemv(m.weights().classifier());
          },
          3, 0.0);
      fp_gemv_tps = 1.0 / t;  // at the first thread count
      std::fprintf(stderr, "  float weights streamed once by sgemv (decode bound): %.2f tok/s\n", fp_gemv_tps);
    }
    Timer tw;
    model::write_hf_model((dir / "f32").string(), c, m.weights(), formats::DType::F32, /*force=*/true);
    f32_bytes = fs::file_size(dir / "f32" / "model.safetensors");
    std::fprintf(stderr, "      wrote f32 safetensors: %.1f MB in %.1f s\n", f32_bytes / 1e6, tw.seconds());
    fs::remove_all(dir / "f32");
  }

  calib::QuantOptions q;
  q.method = calib::parse_method(o.method);
  q.wbits = o.wbits, q.abits = o.abits;
  q.steps = o.steps;
  q.k_center = o.k_center;
  q.nsamples = o.calib_windows;
  q.calib_ctx = o.calib_ctx;
  q.progress = false;
  q.validate();
  std::unique_ptr<model::QuantModelData> data;
  {
    set_threads(*std::max_element(o.threads.begin(), o.threads.end()));
    Timer t;
    std::fprintf(stderr, "[3/4] quantizing in memory: %s on %d random-token windows of %d\n", q.describe().c_str(),
                 o.calib_windows, o.calib_ctx);
    std::vector<std::vector<int>> windows;
    windows.reserve(static_cast<size_t>(o.calib_windows));
    for (int i = 0; i < o.calib_windows; ++i) windows.push_back(random_tokens(o.calib_ctx, c.vocab_size, 100 + i));
    calib::QuantizedModel qm = calib::quantize_model(src, windows, q);
    data = std::make_unique<model::QuantModelData>(calib::to_file_data(qm, "llama2c", "synthetic model: no tokenizer"));
    std::fprintf(stderr, "      %.1f s\n", t.seconds());
  }
  const fs::path gguf = dir / "model-int.gguf";
  // The file as `duquant quantize` writes it by default (embedding Q8_0, classifier F16); Q8_0 needs dim % 32 == 0.
  if (c.dim % 32 != 0) data->embed_type = model::TableType::F16;
  model::write_quant_model(gguf.string(), *data);
  for (const auto& L : data->layers)
    for (const kernels::PackedWeights* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      iq_token_bytes +=
          static_cast<double>(w->data.size() + 4 * (w->scale.size() + w->zero.size() + w->sum.size() + w->corr.size()));
  // the classifier as the engine keeps it: F16 halves when the file stores it so (the default), else f32
  iq_token_bytes +=
      (data->lm_head_type == model::TableType::F16 ? 2.0 : 4.0) * static_cast<double>(c.vocab_size) * c.dim;
  gguf_bytes = fs::file_size(gguf);
  fs::remove(gguf);
  std::fprintf(
      stderr,
      "      wrote %s .gguf: %.1f MB (embedding %s, classifier %s)\n[4/4] integer engine (%s, KV %d-bit cache)\n",
      qn.c_str(), gguf_bytes / 1e6, model::table_type_name(data->embed_type),
      model::table_type_name(data->lm_head_type), qn.c_str(), data->q.kv_bits);
  {
    model::IntModel im = model::make_int_model(std::move(data), model::fp32_transform_factory(), /*quantized_kv=*/true,
                                               o.exact_rotations);
    iqs = measure(
        qn, c,
        [&](std::span<const int> tk, int p, model::KVCache& kc, bool last) { return im.forward(tk, p, kc, last); }, o);
    if (!o.batch.empty())
      iq_batch = measure_batched(
          qn, c, [&](std::span<const model::SeqChunk> ch) { return im.forward_batch(ch); }, o);
  }

  const Speed& fp = fps.front();
  const Speed& iq = iqs.front();
  const double r_pre = iq.prefill_tps / fp.prefill_tps, r_dec = iq.decode_tps / fp.decode_tps;
  const double r_size = static_cast<double>(f32_bytes) / static_cast<double>(gguf_bytes);
  const uint64_t rss = peak_rss_bytes();
  std::FILE* out = o.json ? stderr : stdout;
  std::fprintf(out, "\nEnd to end, %s (%s, %d steps), %d thread%s, %s\n", c.summary().c_str(), o.method.c_str(),
               o.steps, o.threads.front(), o.threads.front() == 1 ? "" : "s", clock_name());
  std::fprintf(out, "%-28s %12s %12s %8s %8s\n", "", "float", (qn + " int").c_str(), "ratio", "target");
  std::fprintf(out, "%-28s %12.2f %12.2f %7.2fx %7s  %s\n",
               ("prefill tok/s (" + std::to_string(o.prefill) + ")").c_str(), fp.prefill_tps, iq.prefill_tps, r_pre,
               "2.5x", r_pre >= 2.5 ? "met" : "NOT met");
  std::fprintf(out, "%-28s %12.2f %12.2f %7.2fx %7s  %s\n",
               ("decode tok/s (" + std::to_string(o.decode) + " after " + std::to_string(o.prompt) + ")").c_str(),
               fp.decode_tps, iq.decode_tps, r_dec, "4x", r_dec >= 4 ? "met" : "NOT met");
  std::fprintf(out, "%-28s %12.2f %12.2f %7.2fx %7s  %s\n", "decode vs float sgemv bound", fp_gemv_tps, iq.decode_tps,
               iq.decode_tps / fp_gemv_tps, "(4x)", iq.decode_tps / fp_gemv_tps >= 4 ? "met" : "not met");
  std::fprintf(out, "%-28s %12.1f %12.1f %7.2fx\n", "weight MB read per token", fp_token_bytes / 1e6,
               iq_token_bytes / 1e6, fp_token_bytes / iq_token_bytes);
  std::fprintf(out, "%-28s %12.2f %12.2f   (weight bytes per token x decode tok/s)\n", "decode GB/s",
               fp_token_bytes * fp.decode_tps / 1e9, iq_token_bytes * iq.decode_tps / 1e9);
  std::fprintf(out, "%-28s %12.1f %12.1f %7.2fx %7s  %s\n", ("file MB (f32 st / " + qn + " gguf)").c_str(),
               f32_bytes / 1e6, gguf_bytes / 1e6, r_size, "6x", r_size >= 6 ? "met" : "NOT met");
  std::fprintf(out, "%-28s %12.1f  (whole bench process: float model, quantization and %s engine)\n", "peak RSS MB",
               rss / 1e6, qn.c_str());
  // Thread scaling: tokens/s at each count over the first count's, per engine.
  std::string threads_json;
  if (o.threads.size() > 1)
    std::fprintf(
        out,
        "\nThread scaling (tokens/s at N threads / at %d), interleaved, %s\n%-8s %12s %12s %12s %12s %9s %9s %9s %9s\n",
        o.threads.front(), clock_name(), "threads", "float pre", "float dec", (qn + " pre").c_str(),
        (qn + " dec").c_str(), "f pre x", "f dec x", (qn + " pre x").c_str(), (qn + " dec x").c_str());
  for (size_t ti = 0; ti < o.threads.size(); ++ti) {
    const Speed &f = fps[ti], &q = iqs[ti];
    const double sfp = f.prefill_tps / fp.prefill_tps, sfd = f.decode_tps / fp.decode_tps;
    const double sqp = q.prefill_tps / iq.prefill_tps, sqd = q.decode_tps / iq.decode_tps;
    if (o.threads.size() > 1)
      std::fprintf(out, "%-8d %12.2f %12.2f %12.2f %12.2f %8.2fx %8.2fx %8.2fx %8.2fx\n", o.threads[ti], f.prefill_tps,
                   f.decode_tps, q.prefill_tps, q.decode_tps, sfp, sfd, sqp, sqd);
    threads_json +=
        std::string(ti ? ", " : "") + "{\"threads\": " + std::to_string(o.threads[ti]) +
        ", \"float_prefill_tps\": " + json_number(f.prefill_tps) +
        ", \"float_decode_tps\": " + json_number(f.decode_tps) +
        ", \"w4a4_prefill_tps\": " + json_number(q.prefill_tps) +
        ", \"w4a4_decode_tps\": " + json_number(q.decode_tps) + ", \"float_prefill_scaling\": " + json_number(sfp) +
        ", \"float_decode_scaling\": " + json_number(sfd) + ", \"w4a4_prefill_scaling\": " + json_number(sqp) +
        ", \"w4a4_decode_scaling\": " + json_number(sqd) + "}";
  }
  if (!o.batch.empty()) print_batched(out, fp_batch, iq_batch, o, qn);
  if (o.json) {
    std::printf(
        "{\"model\": {\"dim\": %d, \"hidden\": %d, \"layers\": %d, \"heads\": %d, \"kv_heads\": %d, \"vocab\": %d, "
        "\"params\": %lld}, \"method\": \"%s\", \"bits\": \"%s\", \"steps\": %d, \"clock\": \"%s\", \"threads\": [%s], "
        "\"prefill\": {\"tokens\": %d, \"float_tps\": %s, \"w4a4_tps\": %s, \"ratio\": %s}, "
        "\"decode\": {\"prompt\": %d, \"tokens\": %d, \"float_tps\": %s, \"w4a4_tps\": %s, \"ratio\": %s, "
        "\"float_sgemv_bound_tps\": %s, \"float_weight_bytes_per_token\": %.0f, \"w4a4_weight_bytes_per_token\": %.0f, "
        "\"float_gbps\": %s, \"w4a4_gbps\": %s}, "
        "\"file_bytes\": {\"f32_safetensors\": %llu, \"w4a4_gguf\": %llu, \"ratio\": %s}, "
        "\"peak_rss_bytes\": %llu, \"by_threads\": [%s], \"batched\": [%s]}\n",
        c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.n_params(), o.method.c_str(),
        qn.c_str(), o.steps, wall_clock() ? "wall" : "cpu", tlist.c_str(), o.prefill,
        json_number(fp.prefill_tps).c_str(), json_number(iq.prefill_tps).c_str(), json_number(r_pre).c_str(), o.prompt,
        o.decode, json_number(fp.decode_tps).c_str(), json_number(iq.decode_tps).c_str(), json_number(r_dec).c_str(),
        json_number(fp_gemv_tps).c_str(), fp_token_bytes, iq_token_bytes,
        json_number(fp_token_bytes * fp.decode_tps / 1e9).c_str(),
        json_number(iq_token_bytes * iq.decode_tps / 1e9).c_str(), static_cast<unsigned long long>(f32_bytes),
        static_cast<unsigned long long>(gguf_bytes), json_number(r_size).c_str(), static_cast<unsigned long long>(rss),
        threads_json.c_str(), batched_json(fp_batch, iq_batch, o.stages).c_str());
  }
}

}  // namespace duq::tools
