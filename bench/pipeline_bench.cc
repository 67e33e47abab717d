// The whole quantization pipeline (calib::quantize_model) on a LLaMA-2-7B-shaped synthetic model (dim 4096,
// hidden 11008, 32 heads; 2 blocks by default, vocab 1000) written to a temporary Hugging Face directory
// (bf16 safetensors, opened memory-mapped as `duquant quantize` does): wall time and peak memory
// (getrusage ru_maxrss) per method, each method in its own forked process so that the peaks are separate.
//
// Phases: the pipeline has no timing hooks, so the bench reports (1) the time spent copying blocks out of the
// mapped file (a timing WeightSource wrapper) and (2) phase costs by difference between methods that add one
// phase each: rtn = load + search-sequence forward + weight rounding; smoothquant adds the FP statistics pass
// over all calibration windows; rotation adds the randomized Hadamards; duquant adds the greedy search
// (GreedyOptions.fast = true, the pipeline default) and the zigzag permutation.
//
// Not a Google Benchmark timing loop (one run of minutes). Options as key=value:
//   layers=2 dim=4096 hidden=11008 heads=32 vocab=1000 calib=8 ctx=512 steps=256 threads=1 dtype=bf16
//   outliers=1 (plant 8 normal outlier channels x20 and massive outliers x500 at ids 1,13,29)
//   methods=rtn,smoothquant,rotation,duquant
// Run: OPENBLAS_CORETYPE=SkylakeX build/bench/bench_pipeline_bench [key=value ...]
//
// Measured on the shared 2-core dev box (load ~12, so wall times are inflated ~2–4×), defaults with
// methods=rtn,smoothquant,duquant, 2 blocks bf16 (0.83 GB), 8 × 512 calibration tokens, 256 steps:
//   rtn 71.6 s, smoothquant 96.9 s, duquant 198.7 s wall; peak RSS 2.96 / 3.02 / 3.04 GB (the output model
//   holds both blocks dequantized in f32, 1.6 GB, plus one block being worked on); block loads 3–5 s.
//   By difference: FP statistics 25 s, greedy search + permutation 102 s (4 sites × 2 blocks), the rest 72 s.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "calib/pipeline.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/threads.h"
#include "formats/dtype.h"
#include "kernels/gemm_f32.h"
#include "model/hf_source.h"
#include "model/outliers.h"
#include "model/synthetic.h"

#include "key_value_args.h"

namespace duq::bench {
namespace {

namespace fs = std::filesystem;

using Args = KeyValueArgs;

// Forwards to a source and adds up the time spent producing blocks (copy out of the mapped file + convert).
class TimedSource : public model::WeightSource {
 public:
  explicit TimedSource(const model::WeightSource& s) : s_(s) {}
  const model::ModelConfig& config() const override { return s_.config(); }
  std::string description() const override { return s_.description(); }
  Mat embedding() const override { return s_.embedding(); }
  model::LayerWeights layer(int l) const override {
    Timer t;
    model::LayerWeights w = s_.layer(l);
    load_seconds += t.seconds();
    return w;
  }
  Vec final_norm() const override { return s_.final_norm(); }
  Mat lm_head() const override { return s_.lm_head(); }
  mutable double load_seconds = 0;

 private:
  const model::WeightSource& s_;
};

double peak_rss_gb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1048576.0;  // KiB → GiB
}

// Quantizes with `method` in a child process; the child prints its line and writes its total time to `pipe`.
double run_method(const std::string& dir, const std::vector<std::vector<int>>& windows, const std::string& method,
                  int steps) {
  std::fflush(stdout);  // or the child re-prints the parent's buffered lines
  int fd[2];
  if (pipe(fd) != 0) fail("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    close(fd[0]);
    double total = -1;
    try {
      Timer t;
      auto src = model::open_hf_weights(dir);
      TimedSource timed(*src);
      calib::QuantOptions o;
      o.method = calib::parse_method(method);
      o.steps = steps;
      o.progress = false;
      const calib::QuantizedModel q = calib::quantize_model(timed, windows, o);
      total = t.seconds();
      std::printf("%-12s %9.1f %9.1f %9.1f %11.2f\n", method.c_str(), total, q.calib_seconds, timed.load_seconds,
                  peak_rss_gb());
      std::fflush(stdout);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s: %s\n", method.c_str(), e.what());
    }
    if (write(fd[1], &total, sizeof total) != sizeof total) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  double total = -1;
  if (read(fd[0], &total, sizeof total) != sizeof total) total = -1;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return total;
}

int run(const Args& a) {
  const int threads = static_cast<int>(a.num("threads", 1));
  duq::set_threads(threads);
  model::ModelConfig c = llama7b_block_config(a, 4096);
  const std::string dtype = a.str("dtype", "bf16");
  const formats::DType dt = dtype == "f32"   ? formats::DType::F32
                            : dtype == "f16" ? formats::DType::F16
                                             : formats::DType::BF16;

  const fs::path dir = fs::temp_directory_path() / ("duq_pipeline_bench_" + std::to_string(getpid()));
  {
    Timer t;
    model::ModelWeights w = model::random_weights(c, 1);
    const bool outliers = a.num("outliers", 1) != 0;
    if (outliers) {
      model::OutlierSpec spec;
      spec.channels = 8;
      spec.scale = 20.f;
      spec.massive_tokens = {1, 13, 29};
      spec.massive_scale = 500.f;
      spec.seed = 1;
      model::plant_outliers(c, w, spec);
    }
    model::write_hf_model(dir.string(), c, w, dt, /*force=*/true);
    std::printf("model: %s, %s, %.2f GB on disk (%s outliers), written in %.1f s to %s\n", c.summary().c_str(),
                dtype.c_str(), fs::file_size(dir / "model.safetensors") / 1e9, outliers ? "planted" : "no", t.seconds(),
                dir.c_str());
  }
  const int nwin = static_cast<int>(a.num("calib", 8)), ctx = static_cast<int>(a.num("ctx", 512));
  const int steps = static_cast<int>(a.num("steps", 256));
  const auto windows = model::trigger_windows(nwin, ctx, c.vocab_size, c.bos_id, {13, 29}, 0.02, 2);
  std::printf("calibration %d x %d tokens, W4A4, block 128, %d greedy steps (fast exact search), BLAS threads %d\n\n",
              nwin, ctx, steps, threads);
  std::printf("%-12s %9s %9s %9s %11s\n", "method", "wall s", "pipeline", "load s", "peak RSS GB");
  std::map<std::string, double> secs;
  std::stringstream ms(a.str("methods", "rtn,smoothquant,rotation,duquant"));
  std::string m;
  while (std::getline(ms, m, ',')) secs[m] = run_method(dir.string(), windows, m, steps);
  if (secs.count("rtn") && secs.count("smoothquant") && secs.count("duquant")) {
    std::printf(
        "\nphases by difference: FP statistics (smoothquant - rtn) %.1f s; greedy search + permutation "
        "(duquant - smoothquant) %.1f s; rest (load, search-sequence forward, weight rounding = rtn) %.1f s\n",
        secs["smoothquant"] - secs["rtn"], secs["duquant"] - secs["smoothquant"], secs["rtn"]);
  }
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace duq::bench

int main(int argc, char** argv) {
  return duq::bench::run_with_key_value_args(argc, argv, "bench/pipeline_bench.cc", duq::bench::run);
}
