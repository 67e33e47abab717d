#include "eval/dataset_text.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "eval/tasks/jsonl.h"

namespace duq::eval {

DatasetFormat parse_dataset_format(const std::string& name) {
  if (name == "raw") return DatasetFormat::Raw;
  if (name == "hf-lines") return DatasetFormat::HfLines;
  if (name == "c4") return DatasetFormat::C4;
  fail("--dataset-format: unknown format '", name, "' (raw, hf-lines, c4)");
}

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open text file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.empty()) fail(path, ": text file is empty");
  return s;
}

std::vector<std::string> jsonl_texts(const std::string& path, size_t max_rows) {
  std::vector<std::string> rows;
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open text file");
  std::string line;
  long n = 0;
  while (rows.size() < max_rows && std::getline(f, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    tasks::Loc at{path, n};
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(at.str(), ": expected a JSON object per line");
    rows.push_back(tasks::str_field(j, "text", at));
  }
  if (rows.empty()) fail(path, ": no rows");
  return rows;
}

std::string join(const std::vector<std::string>& rows, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) out += (i ? sep : "") + rows[i];
  return out;
}

bool is_jsonl(const std::string& path) { return path.ends_with(".jsonl") || path.ends_with(".json"); }

}  // namespace

std::string dataset_text(const std::string& path, DatasetFormat fmt) {
  switch (fmt) {
    case DatasetFormat::Raw: return read_all(path);
    case DatasetFormat::C4:
      if (!is_jsonl(path)) fail(path, ": --dataset-format c4 reads the validation shard's JSON lines (.json/.jsonl)");
      return join(jsonl_texts(path, kC4Documents), " ");
    case DatasetFormat::HfLines: {
      if (is_jsonl(path)) return join(jsonl_texts(path, SIZE_MAX), "\n\n");
      const std::string raw = read_all(path);
      std::vector<std::string> rows;
      size_t b = 0;
      while (b < raw.size()) {
        size_t e = raw.find('\n', b);
        e = e == std::string::npos ? raw.size() : e + 1;
        std::string line = raw.substr(b, e - b);
        rows.push_back(line.find_first_not_of(" \t\r\n") == std::string::npos ? "" : line);
        b = e;
      }
      return join(rows, "\n\n");
    }
  }
  fail("unreachable dataset format");
}

}  // namespace duq::eval
