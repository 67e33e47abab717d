// Line-oriented readers for task files with errors that name file and line ("valid.jsonl:12: ...").
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace duq::eval::tasks {

// Where a record came from, for error messages.
struct Loc {
  std::string file;
  long line = 0;
  std::string str() const { return file + ":" + std::to_string(line); }
};

// Calls fn(object, loc) for every non-blank line of a JSONL file; each line must be a JSON object.
// An unreadable or empty file (no records) is an error.
void for_each_jsonl(const std::filesystem::path& path,
                    const std::function<void(const nlohmann::json&, const Loc&)>& fn);

// Non-blank lines of a text file with their line numbers (empty file → error).
std::vector<std::pair<std::string, long>> read_lines(const std::filesystem::path& path);

// Field accessors: a missing field or one of the wrong type throws "<file>:<line>: field 'key' ...".
const nlohmann::json& field(const nlohmann::json& j, const std::string& key, const Loc& at);
std::string str_field(const nlohmann::json& j, const std::string& key, const Loc& at);
// An integer given as a JSON number, a numeric string ("1") or a boolean (false = 0, true = 1).
long int_field(const nlohmann::json& j, const std::string& key, const Loc& at);

}  // namespace duq::eval::tasks
