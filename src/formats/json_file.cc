#include "formats/json_file.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/error.h"
#include "core/file_checks.h"

namespace duq::formats {

namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the user needs only the rest.
std::string strip_exception_tag(const std::string& what) {
  if (!what.empty() && what[0] == '[') {
    auto close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

const nlohmann::json* field(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  if (!obj.is_object()) fail(source, ": expected a JSON object holding '", key, "'");
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json& required(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  const nlohmann::json* v = field(obj, key, source);
  if (!v) fail(source, ": missing field '", key, "'");
  return *v;
}

[[noreturn]] void wrong_type(const std::string& source, const std::string& key, const char* want,
                             const nlohmann::json& v) {
  fail(source, ": field '", key, "' must be ", want, " (got ", v.dump(), ")");
}

int64_t as_int(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      wrong_type(source, key, "an integer that fits 64 bits", v);
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  wrong_type(source, key, "an integer", v);
}

double as_float(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (!v.is_number()) wrong_type(source, key, "a number", v);
  return v.get<double>();
}

std::string as_string(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (!v.is_string()) wrong_type(source, key, "a string", v);
  return v.get<std::string>();
}

bool as_bool(const nlohmann::json& v, const std::string& key, const std::string& source) {
  if (!v.is_boolean()) wrong_type(source, key, "true or false", v);
  return v.get<bool>();
}

}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error for bad syntax, but out_of_range for a number too large for a double (1e400).
    fail(source, ": invalid JSON: ", strip_exception_tag(e.what()));
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path.string(), ": file not found");
  if (std::filesystem::is_directory(path, ec)) fail(path.string(), ": is a directory, expected a JSON file");
  return parse_json(read_regular_file(path.string(), "JSON file", 1ull << 30), path.string());
}

int64_t json_int(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  return as_int(required(obj, key, source), key, source);
}
double json_float(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  return as_float(required(obj, key, source), key, source);
}
std::string json_string(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  return as_string(required(obj, key, source), key, source);
}
bool json_bool(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  return as_bool(required(obj, key, source), key, source);
}

std::optional<int64_t> json_opt_int(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  const nlohmann::json* v = field(obj, key, source);
  if (!v) return std::nullopt;
  return as_int(*v, key, source);
}
std::optional<double> json_opt_float(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  const nlohmann::json* v = field(obj, key, source);
  if (!v) return std::nullopt;
  return as_float(*v, key, source);
}
std::optional<std::string> json_opt_string(const nlohmann::json& obj, const std::string& key,
                                           const std::string& source) {
  const nlohmann::json* v = field(obj, key, source);
  if (!v) return std::nullopt;
  return as_string(*v, key, source);
}
std::optional<bool> json_opt_bool(const nlohmann::json& obj, const std::string& key, const std::string& source) {
  const nlohmann::json* v = field(obj, key, source);
  if (!v) return std::nullopt;
  return as_bool(*v, key, source);
}

}  // namespace duq::formats
