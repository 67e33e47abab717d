// Perplexity of a model on a token stream.
//   paper protocol (DuQuant / GPTQ): tokens = BOS + tokenize(whole text); floor(N/ctx) non-overlapping
//     windows; each window runs from an empty cache; its ctx−1 next-token predictions are scored.
//   llama.cpp protocol: the same token stream (BOS once at the start); windows of ctx tokens whose first token is
//     replaced by BOS; only the second half of each window is scored (predictions of positions
//     ctx/2 … ctx−1 from their prefixes).
// perplexity = exp(mean NLL); the standard error comes from the per-token NLL variance (delta method).
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace duq::eval {

enum class Protocol { Paper, LlamaCpp };

struct PplOptions {
  int ctx = 512;
  int max_windows = 0;  // 0 = all
  Protocol protocol = Protocol::Paper;
  bool progress = true;
};

struct PplResult {
  double ppl = 0, nll = 0, ppl_stderr = 0;
  long scored = 0, windows = 0, tokens_total = 0;
  double seconds = 0, tokens_per_second = 0;  // tokens run through the model per second
  std::vector<double> window_nll;             // mean NLL of each window
};

// Runs one window of tokens [ctx] from an empty state and returns logits [ctx×V].
using WindowLogitsFn = std::function<Mat(std::span<const int> window)>;

// tokens: the already-tokenized text with BOS prepended once (both protocols).
// Throws duq::Error unless ppl and nll are finite: a perplexity is never reported as inf, nan or null.
void check_finite_ppl(double ppl, double nll, const std::string& what);

PplResult perplexity(std::span<const int> tokens, int bos_id, const WindowLogitsFn& run, const PplOptions& opt);

// Log-softmax NLL of `target` under logits row [V] (log-sum-exp in double).
double token_nll(std::span<const float> logits, int target);

}  // namespace duq::eval
