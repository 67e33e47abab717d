// duquant generate: stream a continuation of a prompt (or of BOS) from a model.
#include <cstdio>

#include "core/progress.h"
#include "serve/scheduler.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

struct GenerateOpts {
  ModelArgs m;
  std::string prompt;
  int max_tokens = 256;
  float temperature = 1.0f;
  float top_p = 0.9f;
  uint64_t seed = 0;
  bool simulate = false;
  bool exact_rotations = false;
};

void run_generate(const GenerateOpts& o) {
  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  const auto& cfg = run.cfg;
  const auto& tok = run.tok;
  std::vector<int> prompt = tok->encode(o.prompt, /*bos=*/true, /*eos=*/false);
  if (o.max_tokens < 1) fail("--max-tokens must be at least 1 (got ", o.max_tokens, ")");
  // Beyond a GGUF model's training context only when asked to (prompt + --max-tokens), as llama.cpp does.
  if (cfg.context_extendable && static_cast<long>(prompt.size()) - 1 + o.max_tokens > cfg.max_seq_len)
    run.ensure_context(static_cast<int>(std::min<long>(static_cast<long>(prompt.size()) - 1 + o.max_tokens, 1 << 20)),
                       "the prompt plus --max-tokens");
  if (static_cast<int>(prompt.size()) > cfg.max_seq_len)
    fail("the prompt has ", prompt.size(), " tokens, more than the model's context of ", cfg.max_seq_len);
  // Through the server's continuous-batching scheduler with one request: the same chunked prefill and batched
  // forward, so `duquant serve` at temperature 0 returns exactly this text.
  serve::SchedulerConfig sc;
  sc.parallel = 1;
  sc.queue = 0;
  sc.ctx = std::min(cfg.max_seq_len, static_cast<int>(prompt.size()) + o.max_tokens - 1);
  serve::Scheduler sched(serve::Engine{cfg, tok.get(), run.forward_batch}, sc);
  serve::GenParams gp;
  gp.max_tokens = o.max_tokens;
  gp.temperature = o.temperature;
  gp.top_p = o.top_p;
  gp.seed = o.seed;
  auto job = sched.submit(prompt, gp);
  std::fputs(o.prompt.c_str(), stdout);
  Timer decode_timer;
  for (bool done = false; !done;) {
    sched.step();
    const std::string piece = job->read(std::chrono::milliseconds(0), done);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  }
  if (job->finish() == serve::Finish::Error) fail(job->error());
  const int generated = job->completion_tokens;
  std::fputc('\n', stdout);
  const double s = decode_timer.seconds();
  std::fprintf(stderr, "generated %d tokens in %.2f s: %.1f tokens/s (%s)\n", generated, s,
               generated / std::max(s, 1e-9), run.kind.c_str());
}

DUQ_REGISTER_COMMAND(
    {"generate", "generate text from a prompt (or from BOS)", [](CLI::App& app) {
       auto o = std::make_shared<GenerateOpts>();
       o->m.add(app);
       app.add_option("-p,--prompt", o->prompt, "prompt text (default: start from BOS)");
       app.add_option("-n,--max-tokens", o->max_tokens, "tokens to generate")
           ->capture_default_str()
           ->check(Range(1, 1 << 24));
       // Below 0.01 logits / T overflow float (and sampling is greedy to any precision anyway).
       app.add_option("--temperature", o->temperature, "0 = greedy")
           ->capture_default_str()
           ->check(ZeroOrRange(0.01, 100.0));
       app.add_option("--top-p", o->top_p, "nucleus sampling mass")
           ->capture_default_str()
           ->check(RangeOpenLow(0.0, 1.0));
       app.add_option("--seed", o->seed, "sampling seed")->capture_default_str()->check(RangeU64(0, UINT64_MAX));
       app.add_flag("--simulate", o->simulate,
                    "quantized .gguf: simulated (fake) quantization instead of the integer kernels");
       app.add_flag("--exact-rotations", o->exact_rotations,
                    "integer engine: DuQuant's online rotations in fp32 (as simulated) instead of int16");
       app.callback([o] { run_generate(*o); });
     }});

}  // namespace
}  // namespace duq::tools
