// Per-document metrics and their aggregation as lm-evaluation-harness reports them:
//   acc       = [argmax_i ll_i == gold]           (first maximum on ties, like np.argmax)
//   acc_norm  = [argmax_i ll_i / len(choice_i) == gold], len in Unicode code points (Python's len)
//   lambada   acc = [the continuation is the greedy one]; perplexity = exp(−mean ll) over documents
//   stderr    = sample standard deviation (n − 1) / √n of the per-document values (lm-eval's mean_stderr);
//               for perplexity the delta method ppl · stderr(ll) (lm-eval bootstraps this one)
// MMLU: per subject ("mmlu_<subject>"), per category ("mmlu_stem", …) and overall ("mmlu"), each the mean
// over its documents (lm-eval's size-weighted group mean); group stderr over the same documents.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/tasks/scorer.h"
#include "eval/tasks/task.h"

namespace duq::eval::tasks {

struct DocResult {
  long doc_id = 0;
  int gold = 0;
  std::vector<double> lls;
  std::vector<bool> greedy;
  double acc = 0, acc_norm = 0;
  std::string group;
};

DocResult doc_result(const Doc& d, const std::vector<ChoiceScore>& s);

struct Metric {
  std::string key;     // lm-eval's result name: "piqa", "mmlu_stem", …
  std::string metric;  // "acc", "acc_norm", "perplexity"
  double value = 0, stderr_ = 0;
  long n = 0;
};

// The metrics of one task (several keys for MMLU).
std::vector<Metric> aggregate(const Task& t, const std::vector<DocResult>& docs);

// Mean and lm-eval's mean_stderr of values.
std::pair<double, double> mean_stderr(const std::vector<double>& v);

// One --log-samples line (without the trailing newline).
nlohmann::json sample_json(const Task& t, const Doc& d, const DocResult& r);

// Code points of UTF-8 text (bytes that are not continuation bytes).
size_t utf8_length(const std::string& s);

}  // namespace duq::eval::tasks
