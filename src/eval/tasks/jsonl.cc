#include "eval/tasks/jsonl.h"

#include <fstream>

#include "core/error.h"

namespace duq::eval::tasks {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, long>> read_lines(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path.string(), ": cannot open task file");
  std::vector<std::pair<std::string, long>> out;
  std::string line;
  long n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.emplace_back(line, n);
  }
  if (out.empty()) fail(path.string(), ": task file is empty");
  return out;
}

void for_each_jsonl(const fs::path& path, const std::function<void(const nlohmann::json&, const Loc&)>& fn) {
  for (auto& [line, n] : read_lines(path)) {
    Loc at{path.string(), n};
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) fail(at.str(), ": not valid JSON");
    if (!j.is_object()) fail(at.str(), ": expected a JSON object per line");
    fn(j, at);
  }
}

const nlohmann::json& field(const nlohmann::json& j, const std::string& key, const Loc& at) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) fail(at.str(), ": missing field '", key, "'");
  return *it;
}

std::string str_field(const nlohmann::json& j, const std::string& key, const Loc& at) {
  const auto& v = field(j, key, at);
  if (!v.is_string()) fail(at.str(), ": field '", key, "' must be a string");
  return v.get<std::string>();
}

long int_field(const nlohmann::json& j, const std::string& key, const Loc& at) {
  const auto& v = field(j, key, at);
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number_integer()) return v.get<long>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    size_t used = 0;
    long x = 0;
    try {
      x = std::stol(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == s.size() && !s.empty()) return x;
  }
  fail(at.str(), ": field '", key, "' must be an integer (got ", v.dump(), ")");
}

}  // namespace duq::eval::tasks
