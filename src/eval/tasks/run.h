// Runs a task's documents through a Scorer: tokenizes each request (scorer.h's rule), scores, and turns
// the scores into per-document results, with progress (documents, rate, ETA) on stderr.
#pragma once
#include <functional>

#include "eval/tasks/results.h"
#include "eval/tasks/scorer.h"
#include "eval/tasks/task.h"

namespace duq::eval::tasks {

struct RunOptions {
  long limit = 0;  // first `limit` documents (per subject for MMLU, as lm-eval's --limit); 0 = all
  bool bos = false;
  bool progress = true;
  int batch_size = 16;  // documents scored together (Scorer::score); the scores do not depend on it
};

// The documents `limit` keeps, in order.
std::vector<const Doc*> limited_docs(const Task& t, long limit);

struct RunStats {
  double seconds = 0;
  long docs = 0, forward_tokens = 0;
  long truncated = 0;  // requests left-truncated to the window
  long clipped = 0;    // of those, continuations longer than the window (first tokens unscored)
};

// on_doc(doc, result) is called after each document (for --log-samples).
std::vector<DocResult> run_task(const Task& t, const model::Tokenizer& tok, Scorer& scorer, const RunOptions& o,
                                RunStats* stats = nullptr,
                                const std::function<void(const Doc&, const DocResult&)>& on_doc = {});

// Every task through one model (a fresh Scorer over `fwd`, context window max_len): the metrics of all.
std::vector<Metric> evaluate_tasks(const std::vector<Task>& tasks, const model::Tokenizer& tok,
                                   const BatchForwardFn& fwd, const model::ModelConfig& cfg, int max_len,
                                   const RunOptions& o, RunStats* stats = nullptr);

}  // namespace duq::eval::tasks
