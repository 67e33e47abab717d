// Loglikelihood scoring of (context, continuation) requests with lm-evaluation-harness's rule:
//   1. trailing whitespace of the context moves to the front of the continuation;
//   2. context tokens = encode(context); continuation tokens = encode(context + continuation) minus its
//      first len(encode(context)) tokens (BOS on both when `bos`; an empty context is [BOS]);
//   3. the model sees (context + continuation)[-(max_len+1):][:-1] (left truncation), and the score is the
//      sum of log p(continuation token | everything before it); `greedy` says every continuation token was
//      the argmax. A continuation longer than max_len (lm-eval asserts) has only its last max_len tokens
//      scored.
// Speed: the choices of a document that share a context share its forward pass — the context runs once
// into a KV cache, then each continuation runs from position len(context) over that cache (rows beyond
// the position written are never read, so the next choice simply overwrites them). A left-truncated
// window shares too when the kept part of the context is the same. Continuations longer than the window
// and `share_prefix = false` run one whole sequence per choice (the naive way, for comparison).
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "eval/tasks/task.h"
#include "model/forward.h"
#include "model/tokenizer.h"

namespace duq::eval::tasks {

struct EncodedRequest {
  std::vector<int> context, continuation;
};

// Steps 1–2 above.
EncodedRequest encode_request(const model::Tokenizer& tok, std::string context, std::string continuation, bool bos);

struct ChoiceScore {
  double ll = 0;      // sum of the continuation tokens' log-probabilities
  bool greedy = false;
  int tokens = 0;     // continuation length in tokens
  bool truncated = false;
};

// Runs tokens at positions pos0… over `cache`; returns logits [T×V] (only the last row when last_only).
using ForwardFn = std::function<Mat(std::span<const int> tokens, int pos0, model::KVCache& cache, bool last_only)>;

class Scorer {
 public:
  Scorer(ForwardFn fwd, const model::ModelConfig& cfg, int max_len, bool share_prefix);
  // The scores of a document's requests, in order.
  std::vector<ChoiceScore> score(const std::vector<EncodedRequest>& reqs);
  long forward_tokens() const { return forward_tokens_; }  // tokens run through the model so far
  // Requests whose continuation alone exceeded the window (only its last max_len tokens were scored).
  long clipped() const { return clipped_; }

 private:
  ChoiceScore whole_sequence(const EncodedRequest& r);
  ForwardFn fwd_;
  int max_len_;
  bool share_;
  model::KVCache cache_;
  long forward_tokens_ = 0, clipped_ = 0;
};

// Adds log p(targets[i] | row i of logits) over rows [row0, row0 + n) into s (ll, greedy, tokens).
void accumulate(const Mat& logits, int row0, std::span<const int> targets, ChoiceScore& s);

}  // namespace duq::eval::tasks
