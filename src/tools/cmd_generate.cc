// duquant generate: stream a continuation of a prompt (or of BOS) from a model.
#include <cstdio>

#include "core/progress.h"
#include "model/sampler.h"
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
  const int steps = std::min(cfg.max_seq_len, static_cast<int>(prompt.size()) - 1 + o.max_tokens);
  if (static_cast<int>(prompt.size()) > cfg.max_seq_len)
    fail("the prompt has ", prompt.size(), " tokens, more than the model's context of ", cfg.max_seq_len);
  model::Sampler sampler(o.temperature, o.top_p, o.seed);
  // Sized to the positions this run uses, not to max_position_embeddings (which may be millions).
  model::KVCache cache(cfg, std::max(steps, static_cast<int>(prompt.size())));

  // Prefill all prompt tokens but the last in one batch, then decode one token at a time.
  Timer timer;
  const int n_prompt = static_cast<int>(prompt.size());
  if (n_prompt > 1) run.forward(std::span<const int>(prompt.data(), n_prompt - 1), 0, cache, true);
  std::fputs(o.prompt.c_str(), stdout);
  int token = prompt.back();
  int generated = 0;
  Timer decode_timer;
  for (int pos = n_prompt - 1; pos < steps; ++pos) {
    Mat logits = run.forward(std::span<const int>(&token, 1), pos, cache, /*last_only=*/true);
    int next = sampler.sample(logits.flat());
    if (next == tok->bos_id() || next == tok->eos_id() || cfg.is_eos(next)) break;
    std::string piece = tok->decode(token, next);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    token = next;
    ++generated;
  }
  std::fputc('\n', stdout);
  const double s = decode_timer.seconds();
  std::fprintf(stderr, "generated %d tokens in %.2f s: %.1f tokens/s (%s)\n", generated, s,
               generated / std::max(s, 1e-9), run.kind.c_str());
}

DUQ_REGISTER_COMMAND({"generate", "generate text from a prompt (or from BOS)", [](CLI::App& app) {
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
