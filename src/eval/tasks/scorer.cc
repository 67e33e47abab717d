#include "eval/tasks/scorer.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "eval/perplexity.h"

namespace duq::eval::tasks {

EncodedRequest encode_request(const model::Tokenizer& tok, std::string context, std::string continuation, bool bos) {
  const size_t keep = context.find_last_not_of(" \t\n\r\v\f");
  const size_t n_spaces = keep == std::string::npos ? context.size() : context.size() - keep - 1;
  if (n_spaces > 0) {
    continuation = context.substr(context.size() - n_spaces) + continuation;
    context.resize(context.size() - n_spaces);
  }
  EncodedRequest r;
  if (context.empty()) {
    r.context = {tok.bos_id()};
    r.continuation = tok.encode(continuation, bos, false);
    if (bos && !r.continuation.empty()) r.continuation.erase(r.continuation.begin());
    return r;
  }
  const std::vector<int> whole = tok.encode(context + continuation, bos, false);
  r.context = tok.encode(context, bos, false);
  if (whole.size() > r.context.size()) r.continuation.assign(whole.begin() + static_cast<long>(r.context.size()), whole.end());
  return r;
}

void accumulate(const Mat& logits, int row0, std::span<const int> targets, ChoiceScore& s) {
  for (size_t i = 0; i < targets.size(); ++i) {
    const float* row = logits.row(row0 + static_cast<int64_t>(i));
    const std::span<const float> r(row, static_cast<size_t>(logits.cols()));
    s.ll -= token_nll(r, targets[i]);
    const auto best = std::max_element(r.begin(), r.end()) - r.begin();
    if (best != targets[i]) s.greedy = false;
    ++s.tokens;
  }
}

Scorer::Scorer(ForwardFn fwd, const model::ModelConfig& cfg, int max_len, bool share_prefix)
    : fwd_(std::move(fwd)), max_len_(max_len), share_(share_prefix), cache_(cfg, max_len) {
  if (max_len < 2) fail("the model context (", max_len, " tokens) is too short to score anything");
}

ChoiceScore Scorer::whole_sequence(const EncodedRequest& r) {
  ChoiceScore s;
  s.greedy = true;
  const size_t L = r.continuation.size();
  if (L == 0) return s;
  std::vector<int> all = r.context;
  all.insert(all.end(), r.continuation.begin(), r.continuation.end());
  const size_t limit = static_cast<size_t>(max_len_) + 1;
  if (all.size() > limit) {
    all.erase(all.begin(), all.end() - static_cast<long>(limit));
    s.truncated = true;
  }
  all.pop_back();  // the last continuation token is predicted, never fed
  Mat logits = fwd_(all, 0, cache_, false);
  forward_tokens_ += static_cast<long>(all.size());
  // A continuation longer than the window: only its last max_len tokens have their predecessors in the
  // window and are scored (lm-eval asserts instead; counted in `clipped`).
  const size_t scored = std::min(L, all.size());
  if (scored < L) ++clipped_;
  accumulate(logits, static_cast<int>(all.size() - scored), {r.continuation.data() + (L - scored), scored}, s);
  return s;
}

std::vector<ChoiceScore> Scorer::score(const std::vector<EncodedRequest>& reqs) {
  std::vector<ChoiceScore> out(reqs.size());
  std::vector<char> done(reqs.size(), 0);
  if (share_) {
    // The context a request's window holds: (context + continuation)[-(max_len+1):] keeps the last
    // max_len + 1 − L context tokens (L = continuation length), so requests whose kept contexts are equal
    // share one context pass even when truncated (e.g. MMLU's 1-token choices after a long 5-shot prompt).
    auto kept = [&](const EncodedRequest& r) {
      const size_t room = static_cast<size_t>(max_len_) + 1 - r.continuation.size();
      const size_t n = std::min(r.context.size(), room);
      return std::span<const int>(r.context.data() + (r.context.size() - n), n);
    };
    auto shareable = [&](const EncodedRequest& r) {
      return !r.continuation.empty() && r.continuation.size() <= static_cast<size_t>(max_len_) && !kept(r).empty();
    };
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (done[i] || !shareable(reqs[i])) continue;
      const auto ctx = kept(reqs[i]);
      std::vector<size_t> group;
      for (size_t j = i; j < reqs.size(); ++j)
        if (!done[j] && shareable(reqs[j]) && std::ranges::equal(kept(reqs[j]), ctx)) group.push_back(j);
      const int C = static_cast<int>(ctx.size());
      Mat last = fwd_(ctx, 0, cache_, /*last_only=*/true);
      forward_tokens_ += C;
      for (size_t j : group) {
        const auto& cont = reqs[j].continuation;
        ChoiceScore& s = out[j];
        s.greedy = true;
        s.truncated = ctx.size() < reqs[j].context.size();
        accumulate(last, static_cast<int>(last.rows()) - 1, {cont.data(), 1}, s);
        if (cont.size() > 1) {
          Mat logits = fwd_({cont.data(), cont.size() - 1}, C, cache_, false);
          forward_tokens_ += static_cast<long>(cont.size() - 1);
          accumulate(logits, 0, {cont.data() + 1, cont.size() - 1}, s);
        }
        done[j] = 1;
      }
    }
  }
  for (size_t i = 0; i < reqs.size(); ++i)
    if (!done[i]) out[i] = whole_sequence(reqs[i]);
  return out;
}

}  // namespace duq::eval::tasks
