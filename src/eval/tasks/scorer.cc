#include "eval/tasks/scorer.h"

#include <algorithm>
#include <bit>
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
  if (whole.size() > r.context.size())
    r.continuation.assign(whole.begin() + static_cast<long>(r.context.size()), whole.end());
  return r;
}

void accumulate(const Mat& logits, int64_t row0, std::span<const int> targets, ChoiceScore& s) {
  for (size_t i = 0; i < targets.size(); ++i) {
    const float* row = logits.row(row0 + static_cast<int64_t>(i));
    const std::span<const float> r(row, static_cast<size_t>(logits.cols()));
    s.ll -= token_nll(r, targets[i]);
    const auto best = std::max_element(r.begin(), r.end()) - r.begin();
    if (best != targets[i]) s.greedy = false;
    ++s.tokens;
  }
}

Scorer::Scorer(BatchForwardFn fwd, const model::ModelConfig& cfg, int max_len, bool share_prefix)
    : fwd_(std::move(fwd)), cfg_(cfg), max_len_(max_len), share_(share_prefix) {
  if (max_len < 2) fail("the model context (", max_len, " tokens) is too short to score anything");
}

model::KVCache& Scorer::cache(size_t slot, size_t tokens) {
  if (caches_.size() <= slot) caches_.resize(slot + 1);
  auto& c = caches_[slot];
  // Power-of-two capacities (at most the window): few reallocations as lengths vary.
  if (!c || static_cast<size_t>(c->capacity) < tokens)
    c = std::make_unique<model::KVCache>(cfg_, static_cast<int>(std::min<size_t>(max_len_, std::bit_ceil(tokens))));
  return *c;
}

void Scorer::run(std::span<const Job> jobs) {
  auto rows = [](const model::SeqChunk& ch) { return ch.all_logits ? static_cast<int64_t>(ch.tokens.size()) : 1; };
  for (size_t i = 0; i < jobs.size();) {
    std::vector<model::SeqChunk> chunks;
    size_t tokens = 0, j = i;
    for (; j < jobs.size() && (j == i || tokens + jobs[j].chunk.tokens.size() <= kMaxTokensPerCall); ++j) {
      chunks.push_back(jobs[j].chunk);
      tokens += jobs[j].chunk.tokens.size();
    }
    const Mat logits = fwd_(chunks);
    forward_tokens_ += static_cast<long>(tokens);
    int64_t row = 0;
    for (; i < j; ++i) {
      jobs[i].take(logits, row);
      row += rows(jobs[i].chunk);
    }
  }
}

Scorer::Job Scorer::whole_sequence(const EncodedRequest& r, ChoiceScore& s, std::vector<int>& fed, size_t slot) {
  const size_t L = r.continuation.size();
  fed = r.context;
  fed.insert(fed.end(), r.continuation.begin(), r.continuation.end());
  const size_t limit = static_cast<size_t>(max_len_) + 1;
  if (fed.size() > limit) {
    fed.erase(fed.begin(), fed.end() - static_cast<long>(limit));
    s.truncated = true;
  }
  fed.pop_back();  // the last continuation token is predicted, never fed
  // A continuation longer than the window: only its last max_len tokens have their predecessors in the
  // window and are scored (lm-eval asserts instead; counted in `clipped`).
  const size_t scored = std::min(L, fed.size());
  if (scored < L) ++clipped_;
  const auto targets = std::span<const int>(r.continuation).last(scored);
  const auto skip = static_cast<int64_t>(fed.size() - scored);
  return {{fed, 0, &cache(slot, fed.size()), true},
          [targets, skip, &s](const Mat& logits, int64_t row) { accumulate(logits, row + skip, targets, s); }};
}

std::vector<std::vector<ChoiceScore>> Scorer::score(const std::vector<std::vector<EncodedRequest>>& docs) {
  using Request = std::pair<const EncodedRequest*, ChoiceScore*>;
  std::vector<std::vector<ChoiceScore>> out;
  out.reserve(docs.size());
  for (const auto& d : docs) out.emplace_back(d.size(), ChoiceScore{0, /*greedy=*/true, 0, false});

  // The context a request's window holds: (context + continuation)[-(max_len+1):] keeps the last
  // max_len + 1 − L context tokens (L = continuation length), so requests whose kept contexts are equal
  // share one context pass even when truncated (e.g. MMLU's 1-token choices after a long 5-shot prompt).
  auto kept = [&](const EncodedRequest& r) {
    const size_t room = static_cast<size_t>(max_len_) + 1 - r.continuation.size();
    const size_t n = std::min(r.context.size(), room);
    return std::span<const int>(r.context.data() + (r.context.size() - n), n);
  };
  auto shareable = [&](const EncodedRequest& r) {
    return share_ && !r.continuation.empty() && r.continuation.size() <= static_cast<size_t>(max_len_) &&
           !kept(r).empty();
  };
  // A document's requests with equal kept contexts form a group (one context pass); the others run whole.
  struct Group {
    std::span<const int> ctx;
    std::vector<Request> members;
    model::KVCache* cache = nullptr;
  };
  std::vector<Group> groups;
  std::vector<Request> whole;
  for (size_t d = 0; d < docs.size(); ++d) {
    const size_t first = groups.size();
    for (size_t i = 0; i < docs[d].size(); ++i) {
      const EncodedRequest& r = docs[d][i];
      if (!shareable(r)) {
        whole.push_back({&r, &out[d][i]});
        continue;
      }
      const auto ctx = kept(r);
      auto g = std::find_if(groups.begin() + static_cast<long>(first), groups.end(),
                            [&](const Group& x) { return std::ranges::equal(x.ctx, ctx); });
      if (g == groups.end()) g = groups.insert(groups.end(), Group{ctx, {}, nullptr});
      g->members.push_back({&r, &out[d][i]});
      out[d][i].truncated = ctx.size() < r.context.size();
    }
  }

  // 1. Every group's context in one pass; its last row predicts each member's first continuation token.
  std::vector<Job> jobs;
  size_t slot = 0, rounds = 1;
  for (Group& g : groups) {
    size_t longest = 0;
    for (auto [r, s] : g.members) longest = std::max(longest, r->continuation.size());
    g.cache = &cache(slot++, g.ctx.size() + longest - 1);
    rounds = std::max(rounds, g.members.size());
    jobs.push_back({{g.ctx, 0, g.cache, false}, [&g](const Mat& logits, int64_t row) {
                      for (auto [r, s] : g.members) accumulate(logits, row, {r->continuation.data(), 1}, *s);
                    }});
  }
  run(jobs);

  // 2. The rest of each continuation from position len(context), round k running member k of every group
  // (a group's members share its cache); the whole sequences in round 0, each in its own cache.
  std::vector<std::vector<int>> fed(whole.size());
  for (size_t k = 0; k < rounds; ++k) {
    jobs.clear();
    for (Group& g : groups) {
      if (k >= g.members.size() || g.members[k].first->continuation.size() < 2) continue;
      const auto* r = g.members[k].first;
      auto* s = g.members[k].second;
      const std::span<const int> cont = r->continuation;
      jobs.push_back({{cont.first(cont.size() - 1), static_cast<int>(g.ctx.size()), g.cache, true},
                      [cont, s](const Mat& logits, int64_t row) { accumulate(logits, row, cont.subspan(1), *s); }});
    }
    for (size_t w = 0; k == 0 && w < whole.size(); ++w)
      if (!whole[w].first->continuation.empty())
        jobs.push_back(whole_sequence(*whole[w].first, *whole[w].second, fed[w], slot++));
    run(jobs);
  }
  return out;
}

}  // namespace duq::eval::tasks
