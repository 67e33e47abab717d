// core/file_checks.h on files made here: regular inputs only, outputs never an input (by device + inode,
// through links), directory outputs never holding an input.
#include "core/file_checks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/error.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace duq {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FileChecks, OutputFileRules) {
  const fs::path d = test::temp_dir("file_checks_out");
  test::write_bytes(d / "in.txt", "input");
  fs::create_symlink("in.txt", d / "link");
  const std::vector<std::string> inputs = {(d / "in.txt").string()};
  EXPECT_NE(error_of([&] { check_output_file((d / "in.txt").string(), "--out", true, inputs); }).find("input"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file((d / "link").string(), "--out", true, inputs); }).find("input"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file("", "--out", true, inputs); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file((d / "in.txt").string(), "--out", false, {}); }).find("--force"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file((d / "no" / "x").string(), "--out", true, {}); }).find("no"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file("/dev/null", "--out", true, {}); }).find("device"), std::string::npos);
  // Allowed: a new name, and an existing non-input regular file with force (resolved through the link).
  EXPECT_EQ(check_output_file((d / "new.bin").string(), "--out", false, inputs), d / "new.bin");
  EXPECT_EQ(check_output_file((d / "link").string(), "--out", true, {}), d / "in.txt");
}

TEST(FileChecks, OutputDirNeverHoldsAnInput) {
  const fs::path d = test::temp_dir("file_checks_dir");
  fs::create_directories(d / "model");
  test::write_bytes(d / "model" / "model.bin", "weights");
  const std::vector<std::string> inputs = {(d / "model" / "model.bin").string()};
  EXPECT_NE(error_of([&] { check_output_dir((d / "model").string(), "--out", true, inputs); }).find("holds"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_dir(d.string(), "--out", true, inputs); }).find("holds"), std::string::npos);
  EXPECT_EQ(error_of([&] { check_output_dir((d / "other").string(), "--out", false, inputs); }), "");
}

TEST(FileChecks, RegularInputsOnly) {
  const fs::path d = test::temp_dir("file_checks_in");
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0644), 0);
  EXPECT_NE(error_of([&] { read_regular_file((d / "fifo").string(), "text file"); }).find("FIFO"), std::string::npos);
  EXPECT_NE(error_of([&] { read_regular_file("/dev/zero", "text file"); }).find("device"), std::string::npos);
  EXPECT_NE(error_of([&] { read_regular_file(d.string(), "text file"); }).find("directory"), std::string::npos);
  test::write_bytes(d / "t.txt", "abc");
  EXPECT_EQ(read_regular_file((d / "t.txt").string(), "text file"), "abc");
  EXPECT_NE(error_of([&] { read_regular_file((d / "t.txt").string(), "text file", 2); }).find("more than"),
            std::string::npos);
}

}  // namespace
}  // namespace duq
