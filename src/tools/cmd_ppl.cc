// duquant ppl: perplexity of a model on a text file (paper protocol by default).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/file_checks.h"
#include "eval/dataset_text.h"
#include "eval/perplexity.h"
#include "formats/file_kind.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

struct PplOpts {
  ModelArgs m;
  std::string text;
  int ctx = 0;
  int max_windows = 0;
  bool json = false;
  std::string protocol = "paper";
  std::string dataset_format = "raw";
  bool simulate = false;
  bool exact_rotations = false;
  bool check_simulated = false;
};

void run_ppl(const PplOpts& o) {
  // Checks that need no model come first: nothing is loaded or run for a request that cannot be answered.
  if (o.check_simulated && formats::sniff_model_file(o.m.model) != formats::FileKind::GgufDuquant)
    fail("--check-simulated compares the integer kernels with the simulation of a quantized .gguf; ", o.m.model,
         " is not one");
  if (o.protocol == "llamacpp" && o.ctx != 0 && o.ctx < 3)
    fail("--ctx must be at least 3 with --protocol llamacpp (it scores the second half of each window; got ", o.ctx,
         ")");
  require_regular_file(o.text, "text file");
  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  const auto& cfg = run.cfg;
  const auto& tok = run.tok;
  const int ctx = o.ctx > 0 ? o.ctx : std::min(cfg.max_seq_len, 2048);
  run.ensure_context(ctx, "--ctx " + std::to_string(ctx));
  const auto fmt = eval::parse_dataset_format(o.dataset_format);
  const std::string text = eval::dataset_text(o.text, fmt);
  const int windows = o.max_windows > 0 || fmt != eval::DatasetFormat::C4 ? o.max_windows : eval::kC4Windows;
  // With a window limit only the start of the text is tokenized (a 50 MB text is not, for 2 windows).
  std::vector<int> tokens = windows > 0 ? encode_prefix(*tok, text, static_cast<size_t>(windows) * ctx)
                                        : tok->encode(text, /*bos=*/true, /*eos=*/false);
  eval::PplOptions po;
  po.ctx = ctx;
  po.max_windows = windows;
  po.protocol = o.protocol == "llamacpp" ? eval::Protocol::LlamaCpp : eval::Protocol::Paper;
  model::KVCache cache(cfg, ctx);
  auto r = eval::perplexity(
      tokens, tok->bos_id(), [&](std::span<const int> w) { return run.forward(w, 0, cache, false); }, po);
  if (o.check_simulated) {
    // The same windows through the simulated path: how far the integer kernels are from the simulation.
    Runner sim = load_runner(o.m, /*simulate=*/true);
    sim.ensure_context(ctx, "--ctx " + std::to_string(ctx));
    model::KVCache cache2(cfg, ctx);
    po.progress = false;
    auto rs = eval::perplexity(
        tokens, tok->bos_id(), [&](std::span<const int> w) { return sim.forward(w, 0, cache2, false); }, po);
    const double rel = std::fabs(r.ppl - rs.ppl) / rs.ppl;
    if (o.json) {
      nlohmann::json j = {
          {"ppl", r.ppl},       {"engine", run.kind},   {"ppl_simulated", rs.ppl},        {"relative_difference", rel},
          {"scored", r.scored}, {"windows", r.windows}, {"tokens_total", r.tokens_total}, {"nll", r.nll}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("perplexity %.4f (%s) vs %.4f (%s): relative difference %.3f%% over %ld tokens\n", r.ppl,
                  run.kind.c_str(), rs.ppl, sim.kind.c_str(), 100 * rel, r.scored);
    }
    return;
  }
  if (o.json) {
    nlohmann::json j = {{"ppl", r.ppl},         {"ppl_stderr", r.ppl_stderr},
                        {"nll", r.nll},         {"scored", r.scored},
                        {"windows", r.windows}, {"tokens_total", r.tokens_total},
                        {"ctx", ctx},           {"protocol", o.protocol},
                        {"seconds", r.seconds}, {"tokens_per_second", r.tokens_per_second},
                        {"engine", run.kind}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "perplexity %.4f ± %.4f  (nll %.5f; %ld tokens scored in %ld windows of %d; %ld tokens in text; "
        "%s protocol; %.0f tokens/s; %s)\n",
        r.ppl, r.ppl_stderr, r.nll, r.scored, r.windows, ctx, r.tokens_total, o.protocol.c_str(), r.tokens_per_second,
        run.kind.c_str());
  }
}

DUQ_REGISTER_COMMAND({"ppl", "perplexity on a text file", [](CLI::App& app) {
                        auto o = std::make_shared<PplOpts>();
                        o->m.add(app);
                        app.add_option("--text", o->text, "text file to evaluate")->required();
                        app.add_option("--ctx", o->ctx,
                                       "window length in tokens (default: min(model max, 2048); at least 3 for "
                                       "--protocol llamacpp)")
                            ->check(Range(2, kMaxContext));
                        app.add_option("--max-windows", o->max_windows,
                                       "evaluate at most this many windows (default: all)")
                            ->check(Range(1, kMaxWindows));
                        app.add_option("--protocol", o->protocol,
                                       "paper: BOS once, every prediction scored; llamacpp: BOS per window, "
                                       "second half scored")
                            ->check(CLI::IsMember({"paper", "llamacpp"}))
                            ->capture_default_str();
                        app.add_option("--dataset-format", o->dataset_format,
                                       "raw: the file as is; hf-lines: WikiText-2 as the paper's scripts build it "
                                       "(rows joined with \"\\n\\n\"); c4: the first 1100 validation documents "
                                       "(JSON lines) joined with \" \", 256 windows")
                            ->check(CLI::IsMember({"raw", "hf-lines", "c4"}))
                            ->capture_default_str();
                        app.add_flag("--json", o->json, "print one JSON object");
                        app.add_flag("--check-simulated", o->check_simulated,
                                     "quantized .gguf: also run the simulated path and print both perplexities");
                        app.add_flag("--simulate", o->simulate,
                                     "quantized .gguf: simulated (fake) quantization instead of the integer kernels");
                        app.add_flag(
                            "--exact-rotations", o->exact_rotations,
                            "integer engine: DuQuant's online rotations in fp32 (as simulated) instead of int16");
                        app.callback([o] { run_ppl(*o); });
                      }});

}  // namespace
}  // namespace duq::tools
