// One place for checking command-line values (every command, and every helper adding options, uses it):
// numbers are parsed strictly — the whole string, decimal, finite, no sign on unsigned options — and checked
// against their allowed range at parse time; the range is appended to the option's --help line. A bad value
// ends as one line naming the option ("--rounds: '2e9' is not an integer in [0, 64]") and exit status 1.
//
//   app.add_option("--rounds", o.rounds, "permutation rounds")->check(Range(0, 64));
//   app.add_option("--lac", o.lac, "activation clip")->check(RangeOpenLow(0.0, 1.0));   // (0, 1]
//   app.add_option("--temperature", t, "...")->check(ZeroOrRange(0.01, 100.0));       // 0 or [0.01, 100]
//   app.add_option("--qk-hadamard", h, "...")->check(OneOf({0, 1}));
//
// parse_number / parse_number_list apply the same rules to values found inside other strings ("W4A8",
// "3,4"), throwing duq::Error that names `what`.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duq::tools {

// The value of `s` as T, or nothing: the whole string must be a number of T (integers: optional '-' for
// signed types only, digits, within T's limits; floating point: finite decimal or exponent notation).
template <class T>
std::optional<T> strict_number(std::string_view s);

// [lo, hi] for integers (T deduced) or floating point.
CLI::Validator Range(int64_t lo, int64_t hi);
inline CLI::Validator Range(int lo, int hi) { return Range(static_cast<int64_t>(lo), static_cast<int64_t>(hi)); }
CLI::Validator RangeU64(uint64_t lo, uint64_t hi);
CLI::Validator Range(double lo, double hi);
// (lo, hi]: floating point with an exclusive lower bound (ratios, learning rates, scales).
CLI::Validator RangeOpenLow(double lo, double hi);
// Exactly 0, or [lo, hi] (e.g. temperature: 0 = greedy).
CLI::Validator ZeroOrRange(double lo, double hi);
// One of a few integers (flags written as 0/1, bit widths).
CLI::Validator OneOf(const std::vector<int>& allowed);

// `s` as T within [lo, hi]; throws duq::Error "WHAT: 'S' is not an integer in [lo, hi]".
int64_t parse_int(std::string_view s, int64_t lo, int64_t hi, const std::string& what);
uint64_t parse_u64(std::string_view s, const std::string& what);
// Comma-separated, empty items skipped: "3,4" → {3, 4}; each item as parse_u64.
std::vector<uint64_t> parse_u64_list(const std::string& s, const std::string& what);
// Comma-separated items, empty ones skipped.
std::vector<std::string> split_list(const std::string& s);

}  // namespace duq::tools
