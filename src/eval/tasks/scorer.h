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
// Batching: the documents given to one score() call run together through model::Model::forward_batch —
// all their contexts in one pass, then their continuations in rounds (round k: the k-th choice of every
// context, each from its context's cache), the whole sequences in round 0. Calls hold at most
// kMaxTokensPerCall tokens (more chunks go to the next call). forward_batch gives every chunk the same bits
// whatever shares the call, so a document's scores do not depend on the batch size or its neighbours.
#pragma once
#include <functional>
#include <memory>
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
  double ll = 0;  // sum of the continuation tokens' log-probabilities
  bool greedy = false;
  int tokens = 0;  // continuation length in tokens
  bool truncated = false;
};

// Runs the chunks in one pass (model::Model::forward_batch): the logits of each chunk's last token, or of all
// its tokens when chunk.all_logits, stacked in chunk order.
using BatchForwardFn = std::function<Mat(std::span<const model::SeqChunk> chunks)>;

// Tokens per forward call at most (bounds the activations and logits held at once; a longer chunk runs alone).
constexpr size_t kMaxTokensPerCall = 2048;

class Scorer {
 public:
  Scorer(BatchForwardFn fwd, const model::ModelConfig& cfg, int max_len, bool share_prefix);
  // The scores of several documents' requests, run together: out[d][i] scores docs[d][i].
  std::vector<std::vector<ChoiceScore>> score(const std::vector<std::vector<EncodedRequest>>& docs);
  long forward_tokens() const { return forward_tokens_; }  // tokens run through the model so far
  // Requests whose continuation alone exceeded the window (only its last max_len tokens were scored).
  long clipped() const { return clipped_; }

 private:
  // One chunk of a forward call and what to do with its logits (rows from row0 on).
  struct Job {
    model::SeqChunk chunk;
    std::function<void(const Mat& logits, int64_t row0)> take;
  };
  void run(std::span<const Job> jobs);  // in calls of at most kMaxTokensPerCall tokens
  // r as one sequence from position 0 in the cache of `slot`; fed: the tokens fed (kept alive by the caller).
  Job whole_sequence(const EncodedRequest& r, ChoiceScore& s, std::vector<int>& fed, size_t slot);
  model::KVCache& cache(size_t slot, size_t tokens);  // the slot's cache, grown to hold `tokens` positions

  BatchForwardFn fwd_;
  model::ModelConfig cfg_;
  int max_len_;
  bool share_;
  std::vector<std::unique_ptr<model::KVCache>> caches_;  // reused across calls; one per chunk of a call
  long forward_tokens_ = 0, clipped_ = 0;
};

// Adds log p(targets[i] | row i of logits) over rows [row0, row0 + n) into s (ll, greedy, tokens).
void accumulate(const Mat& logits, int64_t row0, std::span<const int> targets, ChoiceScore& s);

}  // namespace duq::eval::tasks
