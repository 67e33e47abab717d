#include "test_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/assets.h"
#include "core/rng.h"

namespace duq::test {

Mat random_normal_mat(int64_t rows, int64_t cols, uint64_t seed, double scale) {
  Rng rng(seed);
  return random_normal_mat(rows, cols, scale, rng);
}

Mat random_normal_mat(int64_t rows, int64_t cols, double scale, Rng& rng) {
  Mat m(rows, cols);
  for (auto& v : m.flat()) v = static_cast<float>(scale * rng.normal());
  return m;
}

std::filesystem::path assets_dir() { return duq::assets_dir(); }

std::filesystem::path cli_path() { return std::filesystem::path(DUQ_BINARY_DIR) / "duquant"; }

// ctest runs every test in its own process, several at once (-j), so two tests of one suite that ask for the
// same name must not share (or remove) each other's folder: the folder is keyed by the running test's name
// (or, outside a test body, by the process).
std::filesystem::path temp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string owner =
      info ? std::string(info->test_suite_name()) + "." + info->name() : "pid" + std::to_string(::getpid());
  for (auto& c : owner)
    if (c == '/') c = '_';  // parameterized test names carry '/'
  // Keyed by process too, so two runs of one test at once (ctest --repeat, a second terminal) never share a
  // folder; folders of processes that are gone are removed on the way.
  const auto test_dir = std::filesystem::path(DUQ_BINARY_DIR) / "test_tmp" / owner;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(test_dir, ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.rfind("pid", 0) == 0 && pid.size() > 3 && ::kill(std::atoi(pid.c_str() + 3), 0) != 0 && errno == ESRCH)
      std::filesystem::remove_all(e.path(), ec);
  }
  auto p = test_dir / ("pid" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

CommandResult run_command(const std::string& cmdline) {
  static int counter = 0;
  auto dir = std::filesystem::path(DUQ_BINARY_DIR) / "test_tmp";
  std::filesystem::create_directories(dir);
  auto errp = dir / ("stderr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string full = cmdline + " 2>" + errp.string();
  CommandResult r;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_text(errp);
  std::filesystem::remove(errp);
  return r;
}

std::string tokenizer_bin(int n) {
  auto i32 = [](int32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto f32 = [](float v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  std::string s = i32(8);
  auto add = [&](const std::string& p) { s += f32(0.f) + i32(static_cast<int32_t>(p.size())) + p; };
  add("<unk>");
  add("\n<s>\n");
  add("\n</s>\n");
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf);
  }
  add(" ");
  for (int i = 260; i < n; ++i) add(std::string("p").append(std::to_string(i)));
  return s;
}

void expect_one_line_error(const CommandResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << "expected '" << must_contain << "' in: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "error must be one line: " << r.err;
  EXPECT_EQ(r.err.find("internal check"), std::string::npos) << r.err;
}

}  // namespace duq::test
