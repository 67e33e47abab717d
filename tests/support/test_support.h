// Shared helpers for the test binaries: where the assets and the built CLI are, temp dirs, running commands.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"

namespace duq::test {

// [rows × cols] of scale·N(0, 1) draws from core/rng with `seed` (deterministic synthetic data).
Mat random_normal_mat(int64_t rows, int64_t cols, uint64_t seed, double scale = 1.0);
// The same from a caller's generator (row-major draws; several matrices from one stream).
Mat random_normal_mat(int64_t rows, int64_t cols, double scale, Rng& rng);

// The repo's assets/ (or $DUQUANT_ASSETS); a test that needs assets calls GTEST_SKIP only if this is missing.
std::filesystem::path assets_dir();
// build/duquant
std::filesystem::path cli_path();
// A fresh empty directory under the build tree, removed by nothing (inspect after a failure).
std::filesystem::path temp_dir(const std::string& name);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs a shell command line, capturing stdout and stderr separately.
CommandResult run_command(const std::string& cmdline);

std::string read_text(const std::filesystem::path& p);

// llama2.c tokenizer.bin with `n` ≥ 260 tokens: 3 specials, 256 byte pieces, " ", then "p260", "p261", ...
std::string tokenizer_bin(int n);
// Exit status 1 and exactly one line on stderr containing `must_contain` (no internal check, no abort).
void expect_one_line_error(const CommandResult& r, const std::string& must_contain);
void write_bytes(const std::filesystem::path& p, const std::string& bytes);

}  // namespace duq::test
