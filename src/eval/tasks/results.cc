#include "eval/tasks/results.h"

#include <cmath>
#include <map>

namespace duq::eval::tasks {

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {
size_t argmax(const std::vector<double>& v) {
  size_t b = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[b]) b = i;
  return b;
}
}  // namespace

DocResult doc_result(const Doc& d, const std::vector<ChoiceScore>& s) {
  DocResult r;
  r.doc_id = d.id;
  r.gold = d.gold;
  r.group = d.group;
  std::vector<double> norm;
  for (size_t i = 0; i < s.size(); ++i) {
    r.lls.push_back(s[i].ll);
    r.greedy.push_back(s[i].greedy);
    norm.push_back(s[i].ll / static_cast<double>(std::max<size_t>(1, utf8_length(d.choices[i]))));
  }
  r.acc = argmax(r.lls) == static_cast<size_t>(d.gold);
  r.acc_norm = argmax(norm) == static_cast<size_t>(d.gold);
  return r;
}

std::pair<double, double> mean_stderr(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  if (v.empty()) return {0, 0};
  double m = 0;
  for (double x : v) m += x;
  m /= n;
  if (v.size() < 2) return {m, 0};
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return {m, std::sqrt(ss / (n - 1)) / std::sqrt(n)};
}

std::vector<Metric> aggregate(const Task& t, const std::vector<DocResult>& docs) {
  std::vector<Metric> out;
  auto add = [&](const std::string& key, const std::string& metric, const std::vector<double>& v) {
    auto [m, se] = mean_stderr(v);
    out.push_back({key, metric, m, se, static_cast<long>(v.size())});
  };
  if (t.kind == Kind::Lambada) {
    std::vector<double> acc, ll;
    for (auto& d : docs) {
      acc.push_back(d.greedy[0] ? 1.0 : 0.0);
      ll.push_back(d.lls[0]);
    }
    auto [m, se] = mean_stderr(ll);
    const double ppl = std::exp(-m);
    out.push_back({t.name, "perplexity", ppl, ppl * se, static_cast<long>(ll.size())});
    add(t.name, "acc", acc);
    return out;
  }
  std::vector<double> acc, norm;
  std::map<std::string, std::vector<double>> by_group, by_cat;
  for (auto& d : docs) {
    acc.push_back(d.acc);
    norm.push_back(d.acc_norm);
    if (!d.group.empty()) {
      by_group[d.group].push_back(d.acc);
      by_cat[mmlu_category(d.group)].push_back(d.acc);
    }
  }
  add(t.name, "acc", acc);
  if (t.acc_norm) add(t.name, "acc_norm", norm);
  for (auto& [c, v] : by_cat) add(t.name + "_" + c, "acc", v);
  for (auto& [g, v] : by_group) add(t.name + "_" + g, "acc", v);
  return out;
}

nlohmann::json sample_json(const Task& t, const Doc& d, const DocResult& r) {
  nlohmann::json args = nlohmann::json::array();
  for (size_t i = 0; i < d.contexts.size(); ++i) args.push_back({d.contexts[i], d.continuations[i]});
  nlohmann::json j = {{"task", t.name}, {"doc_id", r.doc_id},    {"target", r.gold},
                      {"lls", r.lls},   {"is_greedy", r.greedy}, {"arguments", args}};
  if (!r.group.empty()) j["subject"] = r.group;
  if (t.kind == Kind::Lambada) {
    j["acc"] = r.greedy[0] ? 1.0 : 0.0;
    j["perplexity"] = r.lls[0];  // lm-eval logs the loglikelihood under this name, before aggregation
  } else {
    j["acc"] = r.acc;
    j["acc_norm"] = r.acc_norm;
  }
  return j;
}

}  // namespace duq::eval::tasks
