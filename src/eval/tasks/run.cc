#include "eval/tasks/run.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/progress.h"

namespace duq::eval::tasks {

std::vector<const Doc*> limited_docs(const Task& t, long limit) {
  std::vector<const Doc*> out;
  std::map<std::string, long> taken;
  for (const auto& d : t.docs)
    if (limit <= 0 || taken[d.group]++ < limit) out.push_back(&d);
  return out;
}

std::vector<DocResult> run_task(const Task& t, const model::Tokenizer& tok, Scorer& scorer, const RunOptions& o,
                                RunStats* stats, const std::function<void(const Doc&, const DocResult&)>& on_doc) {
  const auto docs = limited_docs(t, o.limit);
  std::vector<DocResult> out;
  out.reserve(docs.size());
  Progress prog(t.name, static_cast<long>(docs.size()), o.progress);
  Timer timer;
  const long tokens0 = scorer.forward_tokens(), clipped0 = scorer.clipped();
  long truncated = 0;
  const size_t batch = static_cast<size_t>(std::max(1, o.batch_size));
  for (size_t b = 0; b < docs.size(); b += batch) {
    const size_t e = std::min(docs.size(), b + batch);
    std::vector<std::vector<EncodedRequest>> reqs(e - b);
    for (size_t k = b; k < e; ++k)
      for (size_t i = 0; i < docs[k]->contexts.size(); ++i)
        reqs[k - b].push_back(encode_request(tok, docs[k]->contexts[i], docs[k]->continuations[i], o.bos));
    const auto scores = scorer.score(reqs);
    for (size_t k = b; k < e; ++k) {
      for (const auto& sc : scores[k - b]) truncated += sc.truncated;
      out.push_back(doc_result(*docs[k], scores[k - b]));
      if (on_doc) on_doc(*docs[k], out.back());
    }
    const double el = timer.seconds(), rate = static_cast<double>(out.size()) / std::max(el, 1e-9);
    char buf[96];
    std::snprintf(buf, sizeof buf, "docs, %.1f docs/s, ETA %.0f s", rate,
                  static_cast<double>(docs.size() - out.size()) / std::max(rate, 1e-9));
    prog.update(static_cast<long>(out.size()), buf);
  }
  const double el = timer.seconds();
  char buf[64];
  std::snprintf(buf, sizeof buf, "docs, %.1f docs/s", static_cast<double>(out.size()) / std::max(el, 1e-9));
  prog.finish(buf);
  if (stats) {
    stats->seconds += el;
    stats->docs += static_cast<long>(out.size());
    stats->forward_tokens += scorer.forward_tokens() - tokens0;
    stats->truncated += truncated;
    stats->clipped += scorer.clipped() - clipped0;
  }
  return out;
}

std::vector<Metric> evaluate_tasks(const std::vector<Task>& tasks, const model::Tokenizer& tok,
                                   const BatchForwardFn& fwd, const model::ModelConfig& cfg, int max_len,
                                   const RunOptions& o, RunStats* stats) {
  Scorer scorer(fwd, cfg, max_len, /*share_prefix=*/true);
  std::vector<Metric> out;
  for (const auto& t : tasks)
    for (auto& m : aggregate(t, run_task(t, tok, scorer, o, stats))) out.push_back(std::move(m));
  return out;
}

}  // namespace duq::eval::tasks
