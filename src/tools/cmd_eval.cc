// duquant eval: zero-shot / few-shot task accuracy with lm-evaluation-harness's prompts and scoring rule
// (src/eval/tasks/), on the float, integer or simulated engine.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "eval/tasks/run.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"
#include "tools/runner.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;
namespace tk = eval::tasks;

struct EvalOpts {
  ModelArgs m;
  std::string tasks, data, log_samples;
  long limit = 0;
  int max_length = 0, shots = 5, batch_size = 16;
  bool json = false, simulate = false, exact_rotations = false, bos = false, naive = false, force = false;
};

// --data for one task: <data>/<task> or <data>/<task>.jsonl when present (several tasks under one
// folder), else <data> itself (only when a single task is asked for).
fs::path data_for(const std::string& task, const fs::path& data, bool several) {
  if (fs::is_directory(data)) {
    if (fs::exists(data / task)) return data / task;
    if (fs::exists(data / (task + ".jsonl"))) return data / (task + ".jsonl");
  }
  if (several)
    fail("--data ", data.string(), ": no ", task, " or ", task,
         ".jsonl inside it (several tasks need one folder per task)");
  return data;
}

void run_eval(const EvalOpts& o) {
  const auto names = split_list(o.tasks);
  if (names.empty()) fail("--task: give at least one task name");
  for (auto& n : names) {
    bool known = false;
    for (auto& k : tk::task_names()) known |= k == n;
    if (!known) {
      std::string all;
      for (auto& k : tk::task_names()) all += (all.empty() ? "" : ", ") + k;
      fail("--task: unknown task '", n, "' (known: ", all, ")");
    }
  }
  if (o.limit < 0) fail("--limit must be 0 (all) or positive (got ", o.limit, ")");
  if (o.max_length < 0 || o.max_length == 1)
    fail("--max-length must be at least 2 tokens (0 = the model's maximum; got ", o.max_length, ")");
  if (o.shots < 0 || o.shots > 100) fail("--shots must be between 0 and 100 (got ", o.shots, ")");
  const fs::path samples_path = o.log_samples.empty() ? fs::path()
                                                      : check_output_file(o.log_samples, "--log-samples", o.force,
                                                                          {o.m.model, o.m.tokenizer, o.data});
  // Load every task before the model: a bad file fails fast.
  std::vector<tk::Task> tasks;
  tasks.reserve(names.size());
  for (auto& n : names) {
    tasks.push_back(tk::load_task(n, data_for(n, o.data, names.size() > 1), o.shots));
  }
  Runner run = load_runner(o.m, o.simulate, o.exact_rotations);
  const int max_len = o.max_length > 0 ? o.max_length : run.cfg.max_seq_len;
  run.ensure_context(max_len, "--max-length " + std::to_string(max_len));  // beyond a GGUF's training context: warns
  tk::Scorer scorer(run.forward_batch, run.cfg, max_len, !o.naive);
  std::unique_ptr<AtomicFile> samples;
  if (!o.log_samples.empty())
    samples = std::make_unique<AtomicFile>(samples_path, o.force ? Replace::IfRegular : Replace::No);

  nlohmann::json results = nlohmann::json::object(), nsamples = nlohmann::json::object();
  std::vector<tk::Metric> metrics;
  tk::RunStats stats;
  tk::RunOptions ro;
  ro.limit = o.limit;
  ro.bos = o.bos;
  ro.batch_size = o.batch_size;
  for (const auto& t : tasks) {
    auto docs = tk::run_task(t, *run.tok, scorer, ro, &stats, [&](const tk::Doc& d, const tk::DocResult& r) {
      if (samples) samples->write(tk::sample_json(t, d, r).dump() + "\n");
    });
    nsamples[t.name] = {{"original", t.docs.size()}, {"effective", docs.size()}};
    for (auto& m : tk::aggregate(t, docs)) {
      auto& r = results[m.key];
      r["alias"] = m.key;
      r[m.metric + ",none"] = m.value;
      r[m.metric + "_stderr,none"] = m.stderr_;
      metrics.push_back(m);
    }
  }
  if (samples) samples->commit();
  const double docs_per_s = static_cast<double>(stats.docs) / std::max(stats.seconds, 1e-9);
  if (o.json) {
    nlohmann::json j = {
        {"results", results},
        {"n-samples", nsamples},
        {"config",
         {{"model", o.m.model},
          {"engine", run.kind},
          {"bos", o.bos},
          {"max_length", max_len},
          {"limit", o.limit},
          {"num_fewshot_mmlu", o.shots},
          {"prefix_cache", !o.naive},
          {"batch_size", o.batch_size}}},
        {"speed",
         {{"seconds", stats.seconds},
          {"docs", stats.docs},
          {"docs_per_second", docs_per_s},
          {"forward_tokens", stats.forward_tokens}}},
        {"truncation",
         {{"requests_left_truncated", stats.truncated}, {"continuations_longer_than_window", stats.clipped}}}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%-40s %-11s %8s   %-8s %7s\n", "task", "metric", "value", "stderr", "n");
  for (auto& m : metrics)
    std::printf("%-40s %-11s %8.4f ± %-8.4f %7ld\n", m.key.c_str(), m.metric.c_str(), m.value, m.stderr_, m.n);
  std::printf("(%s; %s; %ld documents in %.1f s, %.2f docs/s; %ld tokens run)\n", run.kind.c_str(),
              o.bos ? "BOS" : "no BOS", stats.docs, stats.seconds, docs_per_s, stats.forward_tokens);
  if (stats.truncated > 0)
    std::printf(
        "(%ld requests left-truncated to the %d-token window; %ld continuations longer than it had only "
        "their last %d tokens scored)\n",
        stats.truncated, max_len, stats.clipped, max_len);
}

DUQ_REGISTER_COMMAND(
    {"eval", "task accuracy (PIQA, ARC, HellaSwag, WinoGrande, BoolQ, LAMBADA, MMLU) as lm-eval scores it",
     [](CLI::App& app) {
       auto o = std::make_shared<EvalOpts>();
       o->m.add(app);
       app.add_option("--task,--tasks", o->tasks,
                      "comma-separated tasks: piqa, arc_easy, arc_challenge, hellaswag, winogrande, "
                      "boolq, lambada, mmlu")
           ->required();
       app.add_option("--data", o->data,
                      "task data in its release format: a file, the release folder, or (several "
                      "tasks) a folder holding one <task> folder or <task>.jsonl each")
           ->required();
       app.add_option("--limit", o->limit, "first K documents of each task (MMLU: of each subject)")
           ->check(Range(0, 1 << 30));
       app.add_option("--shots", o->shots, "MMLU: few-shot examples from dev/")
           ->capture_default_str()
           ->check(Range(0, 100));
       app.add_option("--max-length", o->max_length,
                      "context window in tokens; longer requests are left-truncated (default: "
                      "the model's maximum)")
           ->check(Range(0, kMaxContext));
       app.add_flag("--bos", o->bos, "prepend BOS to every request (default off, as lm-eval does for LLaMA models)");
       app.add_flag("--json", o->json, "print lm-eval's results layout as JSON");
       app.add_option("--log-samples", o->log_samples,
                      "write one JSON line per document (doc_id, target, lls, metrics)");
       app.add_flag("--force", o->force, "replace an existing --log-samples file");
       app.add_option("--batch-size", o->batch_size,
                      "documents scored together in one forward pass (their scores do not "
                      "depend on it)")
           ->capture_default_str()
           ->check(Range(1, 1024));
       app.add_flag("--no-prefix-cache", o->naive, "score every choice as its own sequence (slower; for comparison)");
       app.add_flag("--simulate", o->simulate,
                    "quantized .gguf: simulated (fake) quantization instead of the integer kernels");
       app.add_flag("--exact-rotations", o->exact_rotations,
                    "integer engine: DuQuant's online rotations in fp32 instead of int16");
       app.callback([o] { run_eval(*o); });
     }});

}  // namespace
}  // namespace duq::tools
