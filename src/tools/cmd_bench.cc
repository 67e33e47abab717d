// duquant bench gemm | e2e: speed measurements at one or more thread counts (one thread: pinned) (see
// tools/bench_gemm.h, bench_e2e.h).
#include <memory>

#include "calib/options.h"
#include "tools/bench_e2e.h"
#include "tools/bench_gemm.h"
#include "tools/commands.h"
#include "tools/option_checks.h"
#include "tools/thread_args.h"

namespace duq::tools {
namespace {

// --threads 1,2,...: every figure at each count, interleaved, with the scaling ratios (default 1: one pinned
// core, the per-core figures).
void add_thread_list_option(CLI::App& app, std::vector<int>& out) {
  app.add_option_function<std::string>(
         "--threads", [&out](const std::string& s) { out = parse_thread_list(s, "--threads"); },
         "comma-separated thread counts, each figure measured at every one interleaved, with the scaling ratio "
         "(default 1: pinned to one core; more than one: unpinned, wall clock)")
      ->type_name("N[,N...]");
}

// On a machine shared with other jobs a fork-join region waits for descheduled threads, so wall-clock scaling
// there measures the load. Process CPU time summed over the threads instead shows the threading's work
// overhead: CPU(1) / CPU(N) near 1 means N threads would give ~N× on idle cores (with OMP_WAIT_POLICY=passive,
// so that waiting threads sleep instead of spinning on the clock).
void add_cpu_time_flag(CLI::App& app, bool& out) {
  app.add_flag("--cpu-time", out,
               "with several thread counts, time by process CPU time summed over threads (work efficiency on a busy "
               "machine; use with OMP_WAIT_POLICY=passive) instead of wall time");
}

DUQ_REGISTER_COMMAND(
    {"bench", "measure speed: integer GEMM vs fp32/oneDNN (gemm), float vs W4A4 engine (e2e)", [](CLI::App& app) {
       app.require_subcommand(1);
       auto g = std::make_shared<GemmBenchOptions>();
       CLI::App* gemm =
           app.add_subcommand("gemm", "W4A4/W4A8/W8A8 GEMM and GEMV vs OpenBLAS fp32 and oneDNN s8, LLaMA-2-7B shapes");
       gemm->add_flag("--json", g->json, "print {\"gemm\": [...]} on stdout (the table on stderr)");
       gemm->add_flag("--quick", g->quick, "small shapes, one short run (a smoke test)");
       gemm->add_option("--reps", g->reps, "repetitions (median)")->capture_default_str()->check(Range(1, 1000));
       gemm->add_option("--min-time", g->min_seconds, "seconds per repetition")
           ->capture_default_str()
           ->check(RangeOpenLow(0.0, 600.0));
       gemm->add_option("--core", g->core, "CPU to pin to (default: the first allowed)")->check(Range(0, 65535));
       gemm->add_flag("--wall", g->wall, "time by wall clock (default: process CPU time)");
       add_thread_list_option(*gemm, g->threads);
       add_cpu_time_flag(*gemm, g->cpu_time);
       gemm->add_option("--wide-channels", g->wide,
                        "instead of the table: the cost of K wide channels (8-bit, quantize --wide-channels) on a W4A4 "
                        "linear, e.g. 0,16,32,128 (K = 0 is the plain linear each cost is relative to)")
           ->delimiter(',')
           ->check(Range(0, 1 << 16));
       gemm->callback([g] {
         if (!g->wide.empty()) run_wide_gemm_bench(*g);
         else run_gemm_bench(*g);
       });

       auto e = std::make_shared<E2eBenchOptions>();
       CLI::App* e2e =
           app.add_subcommand("e2e",
                              "prefill/decode tokens/s, float vs W4A4 integer engine, and file sizes (synthetic "
                              "TinyLlama-1.1B shape)");
       e2e->add_flag("--json", e->json, "print a JSON summary on stdout (the table on stderr)");
       e2e->add_option("--layers", e->layers, "blocks (fewer for a quick run)")
           ->capture_default_str()
           ->check(Range(1, 1024));
       e2e->add_option("--dim", e->dim, "residual width")->capture_default_str()->check(Range(1, 1 << 16));
       e2e->add_option("--hidden", e->hidden, "SwiGLU width")->capture_default_str()->check(Range(1, 1 << 18));
       e2e->add_option("--heads", e->heads, "query heads")->capture_default_str()->check(Range(1, 1024));
       e2e->add_option("--kv-heads", e->kv_heads, "key/value heads")->capture_default_str()->check(Range(1, 1024));
       e2e->add_option("--vocab", e->vocab, "vocabulary")->capture_default_str()->check(Range(4, 1 << 22));
       e2e->add_option("--prefill", e->prefill, "prefill tokens")->capture_default_str()->check(Range(1, 1 << 20));
       e2e->add_option("--prompt", e->prompt, "prompt tokens before decoding")
           ->capture_default_str()
           ->check(Range(1, 1 << 20));
       e2e->add_option("--decode", e->decode, "decoded tokens")->capture_default_str()->check(Range(1, 1 << 20));
       e2e->add_option("--reps", e->reps, "runs per measurement (median)")
           ->capture_default_str()
           ->check(Range(1, 1000));
       e2e->add_option("--method", e->method, "quantization method (duquant, rtn, ...)")
           ->capture_default_str()
           ->check(CLI::IsMember(calib::method_names()));
       e2e->add_option("--wbits", e->wbits, "integer engine weight bits (4 or 8; W8A8 is llama.cpp Q8_0's peer)")
           ->capture_default_str()
           ->check(Range(2, 8));
       e2e->add_option("--abits", e->abits, "integer engine activation bits (4 or 8)")
           ->capture_default_str()
           ->check(Range(2, 8));
       e2e->add_option("--steps", e->steps, "DuQuant greedy steps")->capture_default_str()->check(Range(0, 1 << 20));
       e2e->add_flag("--k-center", e->k_center, "quantize with --k-center (keys centered: its run-time cost)");
       e2e->add_option("--tmp", e->tmp, "existing folder for the temporary model files (default: the system's)");
       e2e->add_option("--core", e->core, "CPU to pin to (default: the first allowed)")->check(Range(0, 65535));
       e2e->add_flag("--exact-rotations", e->exact_rotations,
                     "integer engine: DuQuant's online rotations in fp32 instead of int16");
       e2e->add_flag("--wall", e->wall, "time by wall clock (default: process CPU time)");
       add_thread_list_option(*e2e, e->threads);
       add_cpu_time_flag(*e2e, e->cpu_time);
       e2e->add_option_function<std::string>(
           "--batch", [e](const std::string& s) { e->batch = parse_thread_list(s, "--batch"); },
           "B[,B...]: also decode B sequences at once through the batched forward (what `serve` runs "
           "per step), aggregate tokens/s at each B and the ratio to the first");
       e2e->add_flag("--stages", e->stages,
                     "with --batch: the wall time of each stage of a batched decode step (ms per step)");
       e2e->callback([e] { run_e2e_bench(*e); });
     }});

}  // namespace
}  // namespace duq::tools
