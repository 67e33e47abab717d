// MMLU (Hendrycks et al.) from the release's CSV directory: dev/<subject>_dev.csv, test/<subject>_test.csv,
// rows "question,A,B,C,D,answer" without a header. The prompt is the original evaluation's (and
// lm-eval's `mmlu` task's, few-shot from the first `shots` dev rows):
//   The following are multiple choice questions (with answers) about {subject with spaces}.\n\n
//   {dev question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer: {letter}\n\n   (× shots)
//   {test question}\nA. …\nD. {D}\nAnswer:
// choices " A", " B", " C", " D" (questions stripped of surrounding whitespace, as lm-eval does).
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "eval/tasks/jsonl.h"
#include "eval/tasks/task.h"

namespace duq::eval::tasks {

namespace fs = std::filesystem;

namespace {

struct CsvRow {
  std::vector<std::string> fields;
  long line;  // where the record starts
};

// RFC 4180 CSV: quoted fields may hold commas, "" and newlines.
std::vector<CsvRow> read_csv(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path.string(), ": cannot open task file");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::vector<CsvRow> rows;
  CsvRow cur{{}, 1};
  std::string field;
  bool quoted = false, any = false;
  long line = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = any = true;
    } else if (c == ',') {
      cur.fields.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        cur.fields.push_back(std::move(field));
        rows.push_back(std::move(cur));
      }
      field.clear();
      any = false;
      cur = CsvRow{{}, ++line};
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) fail(path.string(), ":", cur.line, ": unterminated quoted field");
  if (any || !field.empty()) {
    cur.fields.push_back(std::move(field));
    rows.push_back(std::move(cur));
  }
  if (rows.empty()) fail(path.string(), ": task file is empty");
  return rows;
}

struct Question {
  std::string text;  // "{question}\nA. …\nD. …\nAnswer:"
  int answer;
};

std::vector<Question> read_questions(const fs::path& path) {
  std::vector<Question> out;
  for (auto& r : read_csv(path)) {
    Loc at{path.string(), r.line};
    if (r.fields.size() != 6) fail(at.str(), ": expected 6 fields (question,A,B,C,D,answer), got ", r.fields.size());
    const std::string& a = r.fields[5];
    if (a.size() != 1 || a[0] < 'A' || a[0] > 'D') fail(at.str(), ": answer '", a, "' is out of range (A-D)");
    std::string q = r.fields[0];
    const char* ws = " \t\n\r\v\f";
    const size_t b = q.find_first_not_of(ws);
    q = b == std::string::npos ? "" : q.substr(b, q.find_last_not_of(ws) - b + 1);
    for (int k = 0; k < 4; ++k)
      q += std::string("\n") + static_cast<char>('A' + k) + ". " + r.fields[1 + static_cast<size_t>(k)];
    out.push_back({q + "\nAnswer:", a[0] - 'A'});
  }
  return out;
}

}  // namespace

std::string mmlu_category(const std::string& subject) {
  static const std::map<std::string, std::string> cat = {{"abstract_algebra", "stem"},
                                                         {"anatomy", "stem"},
                                                         {"astronomy", "stem"},
                                                         {"business_ethics", "other"},
                                                         {"clinical_knowledge", "other"},
                                                         {"college_biology", "stem"},
                                                         {"college_chemistry", "stem"},
                                                         {"college_computer_science", "stem"},
                                                         {"college_mathematics", "stem"},
                                                         {"college_medicine", "other"},
                                                         {"college_physics", "stem"},
                                                         {"computer_security", "stem"},
                                                         {"conceptual_physics", "stem"},
                                                         {"econometrics", "social_sciences"},
                                                         {"electrical_engineering", "stem"},
                                                         {"elementary_mathematics", "stem"},
                                                         {"formal_logic", "humanities"},
                                                         {"global_facts", "other"},
                                                         {"high_school_biology", "stem"},
                                                         {"high_school_chemistry", "stem"},
                                                         {"high_school_computer_science", "stem"},
                                                         {"high_school_european_history", "humanities"},
                                                         {"high_school_geography", "social_sciences"},
                                                         {"high_school_government_and_politics", "social_sciences"},
                                                         {"high_school_macroeconomics", "social_sciences"},
                                                         {"high_school_mathematics", "stem"},
                                                         {"high_school_microeconomics", "social_sciences"},
                                                         {"high_school_physics", "stem"},
                                                         {"high_school_psychology", "social_sciences"},
                                                         {"high_school_statistics", "stem"},
                                                         {"high_school_us_history", "humanities"},
                                                         {"high_school_world_history", "humanities"},
                                                         {"human_aging", "other"},
                                                         {"human_sexuality", "social_sciences"},
                                                         {"international_law", "humanities"},
                                                         {"jurisprudence", "humanities"},
                                                         {"logical_fallacies", "humanities"},
                                                         {"machine_learning", "stem"},
                                                         {"management", "other"},
                                                         {"marketing", "other"},
                                                         {"medical_genetics", "other"},
                                                         {"miscellaneous", "other"},
                                                         {"moral_disputes", "humanities"},
                                                         {"moral_scenarios", "humanities"},
                                                         {"nutrition", "other"},
                                                         {"philosophy", "humanities"},
                                                         {"prehistory", "humanities"},
                                                         {"professional_accounting", "other"},
                                                         {"professional_law", "humanities"},
                                                         {"professional_medicine", "other"},
                                                         {"professional_psychology", "social_sciences"},
                                                         {"public_relations", "social_sciences"},
                                                         {"security_studies", "social_sciences"},
                                                         {"sociology", "social_sciences"},
                                                         {"us_foreign_policy", "social_sciences"},
                                                         {"virology", "other"},
                                                         {"world_religions", "humanities"}};
  auto it = cat.find(subject);
  return it == cat.end() ? "other" : it->second;
}

Task load_mmlu(const fs::path& dir, int shots) {
  Task t{"mmlu", Kind::MultipleChoice, false, {}};
  if (!fs::is_directory(dir / "test")) fail(dir.string(), ": mmlu directory has no test/ folder");
  std::vector<std::string> subjects;
  for (auto& e : fs::directory_iterator(dir / "test")) {
    const std::string f = e.path().filename().string();
    const std::string suffix = "_test.csv";
    if (f.size() > suffix.size() && f.ends_with(suffix)) subjects.push_back(f.substr(0, f.size() - suffix.size()));
  }
  if (subjects.empty()) fail(dir.string(), "/test: no <subject>_test.csv files");
  std::sort(subjects.begin(), subjects.end());
  for (const auto& subj : subjects) {
    std::string header = "The following are multiple choice questions (with answers) about ";
    for (char c : subj) header += c == '_' ? ' ' : c;
    header += ".\n\n";
    if (shots > 0) {
      const fs::path dev = dir / "dev" / (subj + "_dev.csv");
      if (!fs::exists(dev)) fail(dev.string(), ": not found (", shots, "-shot examples for ", subj, ")");
      auto ex = read_questions(dev);
      if (static_cast<int>(ex.size()) < shots)
        fail(dev.string(), ": has ", ex.size(), " examples; ", shots, "-shot needs ", shots);
      for (int k = 0; k < shots; ++k)
        header +=
            ex[static_cast<size_t>(k)].text + " " + static_cast<char>('A' + ex[static_cast<size_t>(k)].answer) + "\n\n";
    }
    for (auto& q : read_questions(dir / "test" / (subj + "_test.csv"))) {
      Doc d;
      d.id = static_cast<long>(t.docs.size());
      d.gold = q.answer;
      d.group = subj;
      for (const char* L : {"A", "B", "C", "D"}) {
        d.contexts.push_back(header + q.text);
        d.continuations.push_back(std::string(" ") + L);
        d.choices.push_back(L);
      }
      t.docs.push_back(std::move(d));
    }
  }
  return t;
}

}  // namespace duq::eval::tasks
