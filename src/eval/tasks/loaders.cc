// The task loaders. Prompts follow lm-evaluation-harness v0.4's task configs (quoted beside each loader);
// the default target delimiter is " " (the continuation is " " + choice).
#include <algorithm>
#include <map>
#include <regex>

#include "core/error.h"
#include "eval/tasks/jsonl.h"
#include "eval/tasks/task.h"

namespace duq::eval::tasks {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A document whose choices all share one context: continuation = delimiter + choice.
Doc shared_context_doc(long id, const std::string& context, std::vector<std::string> choices, int gold,
                       const std::string& delim = " ") {
  Doc d;
  d.id = id;
  d.gold = gold;
  for (auto& c : choices) {
    d.contexts.push_back(context);
    d.continuations.push_back(delim + c);
  }
  d.choices = std::move(choices);
  return d;
}

void check_gold(long gold, size_t n, const Loc& at, const char* what) {
  if (gold < 0 || gold >= static_cast<long>(n))
    fail(at.str(), ": ", what, " ", gold, " is out of range (", n, " choices)");
}

}  // namespace

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"piqa",       "arc_easy", "arc_challenge", "hellaswag",
                                                 "winogrande", "boolq",    "lambada",       "mmlu"};
  return names;
}

// piqa: "Question: {goal}\nAnswer:" → " {sol1}" | " {sol2}"; label from valid-labels.lst (one per line).
Task load_piqa(const fs::path& jsonl, const fs::path& labels) {
  Task t{"piqa", Kind::MultipleChoice, /*acc_norm=*/true, {}};
  auto lab = read_lines(labels);
  size_t i = 0;
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    if (i >= lab.size()) fail(labels.string(), ": has ", lab.size(), " labels but ", at.str(), " is another item");
    Loc lat{labels.string(), lab[i].second};
    size_t used = 0;
    long g = -1;
    try {
      g = std::stol(lab[i].first, &used);
    } catch (const std::exception&) {
    }
    if (used == 0 || lab[i].first.find_first_not_of(" \t", used) != std::string::npos)
      fail(lat.str(), ": label '", lab[i].first, "' is not an integer");
    check_gold(g, 2, lat, "label");
    t.docs.push_back(shared_context_doc(static_cast<long>(i), "Question: " + str_field(j, "goal", at) + "\nAnswer:",
                                        {str_field(j, "sol1", at), str_field(j, "sol2", at)}, static_cast<int>(g)));
    ++i;
  });
  if (i != lab.size())
    fail(labels.string(), ": has ", lab.size(), " labels but ", jsonl.string(), " has ", i, " items");
  return t;
}

// arc_easy / arc_challenge: "Question: {question.stem}\nAnswer:" → " {choice.text}"; gold = index of the
// choice whose label equals answerKey (labels are letters or digits).
Task load_arc(const std::string& name, const fs::path& jsonl) {
  Task t{name, Kind::MultipleChoice, true, {}};
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    const json& q = field(j, "question", at);
    if (!q.is_object()) fail(at.str(), ": field 'question' must be an object");
    const json& ch = field(q, "choices", at);
    if (!ch.is_array() || ch.empty()) fail(at.str(), ": field 'question.choices' must be a non-empty array");
    const std::string key = str_field(j, "answerKey", at);
    std::vector<std::string> texts;
    int gold = -1;
    for (const auto& c : ch) {
      if (!c.is_object()) fail(at.str(), ": every entry of 'question.choices' must be an object");
      if (str_field(c, "label", at) == key) gold = static_cast<int>(texts.size());
      texts.push_back(str_field(c, "text", at));
    }
    if (gold < 0) fail(at.str(), ": answerKey '", key, "' is not the label of any choice");
    t.docs.push_back(shared_context_doc(static_cast<long>(t.docs.size()),
                                        "Question: " + str_field(q, "stem", at) + "\nAnswer:", texts, gold));
  });
  return t;
}

std::string py_capitalize(const std::string& s) {
  std::string r = s;
  for (size_t i = 0; i < r.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(r[i]);
    if (c < 0x80) r[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return r;
}

std::string hellaswag_preprocess(const std::string& text) {
  const char* ws = " \t\n\r\v\f";
  const size_t b = text.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  std::string s = text.substr(b, text.find_last_not_of(ws) - b + 1);
  // " [title]" → ". "
  for (size_t p = 0; (p = s.find(" [title]", p)) != std::string::npos; p += 2) s.replace(p, 8, ". ");
  // re.sub("\[.*?\]", "", s): '.' does not match a newline.
  static const std::regex brackets("\\[[^\\n]*?\\]");
  s = std::regex_replace(s, brackets, "");
  // "  " → " ", one left-to-right pass like str.replace.
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ' ' && i + 1 < s.size() && s[i + 1] == ' ') {
      out += ' ';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// hellaswag: query = preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()) → " " +
// preprocess(ending) for each of the endings.
Task load_hellaswag(const fs::path& jsonl) {
  Task t{"hellaswag", Kind::MultipleChoice, true, {}};
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    const std::string ctx = str_field(j, "ctx_a", at) + " " + py_capitalize(str_field(j, "ctx_b", at));
    const std::string query = hellaswag_preprocess(str_field(j, "activity_label", at) + ": " + ctx);
    const json& e = field(j, "endings", at);
    if (!e.is_array() || e.empty()) fail(at.str(), ": field 'endings' must be a non-empty array");
    std::vector<std::string> endings;
    for (const auto& x : e) {
      if (!x.is_string()) fail(at.str(), ": every entry of 'endings' must be a string");
      endings.push_back(hellaswag_preprocess(x.get<std::string>()));
    }
    const long g = int_field(j, "label", at);
    check_gold(g, endings.size(), at, "label");
    t.docs.push_back(shared_context_doc(static_cast<long>(t.docs.size()), query, endings, static_cast<int>(g)));
  });
  return t;
}

// winogrande (partial scoring): i = sentence.index("_"); contexts sentence[:i] + option1 | option2;
// continuation " " + sentence[i+1:].strip(); gold = answer − 1 ("1" | "2").
Task load_winogrande(const fs::path& jsonl) {
  Task t{"winogrande", Kind::MultipleChoice, false, {}};
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    const std::string s = str_field(j, "sentence", at);
    const size_t blank = s.find('_');
    if (blank == std::string::npos) fail(at.str(), ": field 'sentence' has no '_' blank");
    std::string rest = s.substr(blank + 1);
    const char* ws = " \t\n\r\v\f";
    const size_t b = rest.find_first_not_of(ws);
    rest = b == std::string::npos ? "" : rest.substr(b, rest.find_last_not_of(ws) - b + 1);
    const long ans = int_field(j, "answer", at);
    if (ans != 1 && ans != 2) fail(at.str(), ": answer ", ans, " is out of range (must be 1 or 2)");
    Doc d;
    d.id = static_cast<long>(t.docs.size());
    d.gold = static_cast<int>(ans - 1);
    for (const char* opt : {"option1", "option2"}) {
      const std::string o = str_field(j, opt, at);
      d.contexts.push_back(s.substr(0, blank) + o);
      d.continuations.push_back(" " + rest);
      d.choices.push_back(o);
    }
    t.docs.push_back(std::move(d));
  });
  return t;
}

// boolq (SuperGLUE): "{passage}\nQuestion: {question}?\nAnswer:" → " no" | " yes"; gold = label (false/true).
Task load_boolq(const fs::path& jsonl) {
  Task t{"boolq", Kind::MultipleChoice, false, {}};
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    const long g = int_field(j, "label", at);
    check_gold(g, 2, at, "label");
    t.docs.push_back(shared_context_doc(
        static_cast<long>(t.docs.size()),
        str_field(j, "passage", at) + "\nQuestion: " + str_field(j, "question", at) + "?\nAnswer:", {"no", "yes"},
        static_cast<int>(g)));
  });
  return t;
}

// lambada (lambada_openai): words = text.split(" "); context " ".join(words[:-1]); continuation " " + words[-1]
// (target delimiter ""). Metrics: acc (the greedy continuation is the last word) and perplexity.
Task load_lambada(const fs::path& jsonl) {
  Task t{"lambada", Kind::Lambada, false, {}};
  for_each_jsonl(jsonl, [&](const json& j, const Loc& at) {
    const std::string text = str_field(j, "text", at);
    const size_t sp = text.rfind(' ');
    if (sp == std::string::npos || sp == 0) fail(at.str(), ": field 'text' needs at least two space-separated words");
    t.docs.push_back(
        shared_context_doc(static_cast<long>(t.docs.size()), text.substr(0, sp), {text.substr(sp)}, 0, ""));
  });
  return t;
}

Task load_task(const std::string& name, const fs::path& path, int mmlu_shots) {
  auto pick = [&](std::initializer_list<const char*> names) -> fs::path {
    if (!fs::is_directory(path)) {
      if (!fs::exists(path)) fail(path.string(), ": task data not found (--data)");
      return path;
    }
    std::string tried;
    for (const char* n : names) {
      if (fs::is_regular_file(path / n)) return path / n;
      tried += (tried.empty() ? "" : ", ") + (path / n).string();
    }
    fail("no ", name, " data in ", path.string(), " (looked for ", tried, ")");
  };
  if (name == "piqa") {
    const fs::path j = pick({"valid.jsonl"});
    fs::path lab = j.parent_path() / (j.stem().string() + "-labels.lst");
    if (!fs::exists(lab)) fail(name, ": labels file ", lab.string(), " not found (expected next to ", j.string(), ")");
    return load_piqa(j, lab);
  }
  if (name == "arc_easy") return load_arc(name, pick({"ARC-Easy-Test.jsonl", "ARC-Easy/ARC-Easy-Test.jsonl"}));
  if (name == "arc_challenge")
    return load_arc(name, pick({"ARC-Challenge-Test.jsonl", "ARC-Challenge/ARC-Challenge-Test.jsonl"}));
  if (name == "hellaswag") return load_hellaswag(pick({"hellaswag_val.jsonl"}));
  if (name == "winogrande") return load_winogrande(pick({"dev.jsonl"}));
  if (name == "boolq") return load_boolq(pick({"val.jsonl"}));
  if (name == "lambada") return load_lambada(pick({"lambada_test.jsonl"}));
  if (name == "mmlu") {
    if (!fs::is_directory(path)) fail(path.string(), ": mmlu needs the release directory (with dev/ and test/)");
    return load_mmlu(fs::is_directory(path / "data") ? path / "data" : path, mmlu_shots);
  }
  fail("unknown task '", name, "'");
}

}  // namespace duq::eval::tasks
