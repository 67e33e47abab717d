#include "tools/option_checks.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace duq::tools {

template <class T>
std::optional<T> strict_number(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  if constexpr (std::is_unsigned_v<T>) {
    if (s[0] == '-') return std::nullopt;  // strtoull would wrap "-1" to 2^64 − 1
  }
  T v{};
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) return std::nullopt;  // from_chars accepts "inf" and "nan"
  }
  return v;
}
template std::optional<int64_t> strict_number<int64_t>(std::string_view);
template std::optional<uint64_t> strict_number<uint64_t>(std::string_view);
template std::optional<double> strict_number<double>(std::string_view);

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A validator on the option's string: `check` returns "" or the reason; `desc` goes to --help.
CLI::Validator make(const std::string& desc, std::function<std::string(const std::string&)> check) {
  CLI::Validator v(std::move(check), desc, "");
  v.description(desc);
  return v;
}

}  // namespace

CLI::Validator Range(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return make("in " + range, [=](const std::string& s) -> std::string {
    auto v = strict_number<int64_t>(s);
    if (v && *v >= lo && *v <= hi) return "";
    return "'" + s + "' is not an integer in " + range;
  });
}

CLI::Validator RangeU64(uint64_t lo, uint64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return make("in " + range, [=](const std::string& s) -> std::string {
    auto v = strict_number<uint64_t>(s);
    if (v && *v >= lo && *v <= hi) return "";
    return "'" + s + "' is not an integer in " + range;
  });
}

CLI::Validator Range(double lo, double hi) {
  const std::string range = "[" + num(lo) + ", " + num(hi) + "]";
  return make("in " + range, [=](const std::string& s) -> std::string {
    auto v = strict_number<double>(s);
    if (v && *v >= lo && *v <= hi) return "";
    return "'" + s + "' is not a number in " + range;
  });
}

CLI::Validator RangeOpenLow(double lo, double hi) {
  const std::string range = "(" + num(lo) + ", " + num(hi) + "]";
  return make("in " + range, [=](const std::string& s) -> std::string {
    auto v = strict_number<double>(s);
    if (v && *v > lo && *v <= hi) return "";
    return "'" + s + "' is not a number in " + range;
  });
}

CLI::Validator ZeroOrRange(double lo, double hi) {
  const std::string range = "0 or [" + num(lo) + ", " + num(hi) + "]";
  return make(range, [=](const std::string& s) -> std::string {
    auto v = strict_number<double>(s);
    if (v && (*v == 0 || (*v >= lo && *v <= hi))) return "";
    return "'" + s + "' is not " + range;
  });
}

CLI::Validator OneOf(const std::vector<int>& allowed) {
  std::string list;
  for (int a : allowed) list += (list.empty() ? "" : ", ") + std::to_string(a);
  return make("one of " + list, [=](const std::string& s) -> std::string {
    auto v = strict_number<int64_t>(s);
    for (int a : allowed)
      if (v && *v == a) return "";
    return "'" + s + "' is not one of " + list;
  });
}

int64_t parse_int(std::string_view s, int64_t lo, int64_t hi, const std::string& what) {
  auto v = strict_number<int64_t>(s);
  if (!v || *v < lo || *v > hi) fail(what, ": '", s, "' is not an integer in [", lo, ", ", hi, "]");
  return *v;
}

uint64_t parse_u64(std::string_view s, const std::string& what) {
  auto v = strict_number<uint64_t>(s);
  if (!v) fail(what, ": '", s, "' is not an integer in [0, ", std::numeric_limits<uint64_t>::max(), "]");
  return *v;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<uint64_t> parse_u64_list(const std::string& s, const std::string& what) {
  std::vector<uint64_t> out;
  for (const auto& item : split_list(s)) out.push_back(parse_u64(item, what));
  return out;
}

}  // namespace duq::tools
