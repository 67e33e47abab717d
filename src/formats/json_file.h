// JSON files (config.json, model.safetensors.index.json, ...) with errors a user can act on: every
// message names the file, and a missing or mistyped field is named too:
//   "/m/config.json: missing field 'num_attention_heads'".
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace duq::formats {

// Reads and parses `path`. Throws duq::Error naming the file when it is missing, unreadable or not
// valid JSON (with line and column of the parse error).
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses `text`; `source` names where it came from in the error message.
nlohmann::json parse_json(const std::string& text, const std::string& source);

// Required fields of the JSON object `obj`; `source` (usually the file path) prefixes the error.
// Integers accept integral floats (4096.0) but not 4096.5, strings or booleans.
int64_t json_int(const nlohmann::json& obj, const std::string& key, const std::string& source);
double json_float(const nlohmann::json& obj, const std::string& key, const std::string& source);
std::string json_string(const nlohmann::json& obj, const std::string& key, const std::string& source);
bool json_bool(const nlohmann::json& obj, const std::string& key, const std::string& source);

// Optional fields: nullopt when the key is absent or null; a present value of the wrong type throws.
std::optional<int64_t> json_opt_int(const nlohmann::json& obj, const std::string& key, const std::string& source);
std::optional<double> json_opt_float(const nlohmann::json& obj, const std::string& key, const std::string& source);
std::optional<std::string> json_opt_string(const nlohmann::json& obj, const std::string& key,
                                           const std::string& source);
std::optional<bool> json_opt_bool(const nlohmann::json& obj, const std::string& key, const std::string& source);

}  // namespace duq::formats
