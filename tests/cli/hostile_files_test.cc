// The file-system rules (core/file_checks.h, core/atomic_file.h), one test each, through the CLI on a
// synthetic model (no assets): inputs must be regular files; an output is never an input, never a
// non-regular file, replaced only with --force; directory outputs are swapped in complete; two writers of
// one output: exactly one wins; no leftovers after a failure or SIGTERM; out of memory exits cleanly.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "test_support.h"

namespace fs = std::filesystem;
using duq::test::expect_one_line_error;
using duq::test::run_command;

namespace {

class HostileFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = duq::test::temp_dir(std::string("hostile_files_") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto r = run_command(cli("synth --out " + s(dir_ / "m") +
                             " --dim 16 --hidden 32 --layers 1 --heads 2 --vocab 300 --max-seq 64 --seed 3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    duq::test::write_bytes(dir_ / "m" / "tokenizer.bin", duq::test::tokenizer_bin(300));
    std::string text;
    for (int i = 0; i < 200; ++i) text.append("p").append(std::to_string(260 + i % 40)).append(" ");
    duq::test::write_bytes(dir_ / "text.txt", text);
  }
  static std::string s(const fs::path& p) { return p.string(); }
  static std::string cli(const std::string& args) {
    return "timeout 60 " + duq::test::cli_path().string() + " " + args;
  }
  std::string quantize(const std::string& out, const std::string& extra = "", std::string calib = "") const {
    if (calib.empty()) calib = s(dir_ / "text.txt");
    return cli("quantize --model " + s(dir_ / "m") + " --calib " + calib +
               " --nsamples 2 --calib-ctx 16 --steps 2 --quiet --out " + out + " " + extra);
  }
  fs::path dir_;
};

// Rule: inputs are regular files; a FIFO, a device or a directory is refused at once (no blocking read).
TEST_F(HostileFiles, NonRegularInputsAreRefused) {
  ASSERT_EQ(::mkfifo(s(dir_ / "fifo").c_str(), 0644), 0);
  const std::string m = s(dir_ / "m");
  expect_one_line_error(run_command(cli("ppl --model " + m + " --text " + s(dir_ / "fifo"))), "FIFO");
  expect_one_line_error(run_command(cli("ppl --model " + s(dir_ / "fifo") + " --text " + s(dir_ / "text.txt"))),
                        "FIFO");
  expect_one_line_error(run_command(cli("ppl --model /dev/zero --text " + s(dir_ / "text.txt"))), "device");
  expect_one_line_error(run_command(cli("ppl --model " + m + " --text /dev/zero")), "device");
  expect_one_line_error(run_command(cli("ppl --model " + m + " --text " + s(dir_))), "directory");
  expect_one_line_error(run_command(cli("generate --model " + m + " --tokenizer " + s(dir_ / "fifo"))), "FIFO");
  expect_one_line_error(run_command(quantize(s(dir_ / "q.gguf"), "", s(dir_ / "fifo"))), "FIFO");
  // A symlink loop and a name longer than 255 bytes: the system's reason, one line.
  fs::create_symlink("loop", dir_ / "loop");
  expect_one_line_error(run_command(cli("ppl --model " + s(dir_ / "loop") + " --text " + s(dir_ / "text.txt"))),
                        "symbolic links");
  expect_one_line_error(run_command(quantize(s(dir_ / std::string(300, 'a') / "q.gguf"))), "too long");
  expect_one_line_error(run_command(quantize(s(dir_ / "loop"))), "symbolic links");
}

// Rule: an output is never an input of the command, with or without --force, by any name (symlinks too).
TEST_F(HostileFiles, OutputNeverAnInput) {
  const std::string before_tok = duq::test::read_text(dir_ / "m" / "tokenizer.bin");
  const std::string before_st = duq::test::read_text(dir_ / "m" / "model.safetensors");
  const std::string before_text = duq::test::read_text(dir_ / "text.txt");
  expect_one_line_error(run_command(quantize(s(dir_ / "m" / "model.safetensors"), "--force")), "input");
  expect_one_line_error(run_command(quantize(s(dir_ / "m" / "tokenizer.bin"), "--force")), "input");
  expect_one_line_error(run_command(quantize(s(dir_ / "text.txt"), "--force")), "input");
  fs::create_symlink(dir_ / "text.txt", dir_ / "link.txt");
  expect_one_line_error(run_command(quantize(s(dir_ / "link.txt"), "--force")), "input");
  fs::create_hard_link(dir_ / "text.txt", dir_ / "hard.txt");
  expect_one_line_error(run_command(quantize(s(dir_ / "hard.txt"), "--force")), "input");
  // inspect --out MODEL: refused without --force (exists) and with it (an input).
  const std::string ins = "inspect --model " + s(dir_ / "m") + " --calib " + s(dir_ / "text.txt") +
                          " --nsamples 2 --calib-ctx 16 --methods rtn --method rtn --quiet --out ";
  expect_one_line_error(run_command(cli(ins + s(dir_ / "m" / "model.safetensors"))), "input");
  expect_one_line_error(run_command(cli(ins + s(dir_ / "m" / "model.safetensors") + " --force")), "input");
  expect_one_line_error(run_command(cli(ins + s(dir_))), "directory");
  expect_one_line_error(run_command(cli(ins + "''")), "empty");
  EXPECT_EQ(duq::test::read_text(dir_ / "m" / "tokenizer.bin"), before_tok);
  EXPECT_EQ(duq::test::read_text(dir_ / "m" / "model.safetensors"), before_st);
  EXPECT_EQ(duq::test::read_text(dir_ / "text.txt"), before_text);
}

// Rule: a non-regular file (FIFO, device, a symlink to a terminal or pipe) is never replaced, even with --force.
TEST_F(HostileFiles, NonRegularOutputNeverReplaced) {
  ASSERT_EQ(::mkfifo(s(dir_ / "fifo").c_str(), 0644), 0);
  expect_one_line_error(run_command(quantize(s(dir_ / "fifo"), "--force")), "refusing to replace");
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo"));
  fs::create_symlink("/dev/null", dir_ / "null");
  expect_one_line_error(run_command(quantize(s(dir_ / "null"), "--force")), "refusing to replace");
  EXPECT_TRUE(fs::is_symlink(dir_ / "null"));
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  fs::create_symlink("/proc/self/fd/1", dir_ / "stdout");  // stdout is a pipe under run_command
  expect_one_line_error(run_command(quantize(s(dir_ / "stdout"), "--force")), "refusing to replace");
  EXPECT_TRUE(fs::is_symlink(dir_ / "stdout"));
}

// Rule: an existing regular file is replaced only with --force (through a symlink: the file it names).
TEST_F(HostileFiles, ForceReplacesRegularFilesOnly) {
  duq::test::write_bytes(dir_ / "old.gguf", "mine");
  expect_one_line_error(run_command(quantize(s(dir_ / "old.gguf"))), "--force");
  EXPECT_EQ(duq::test::read_text(dir_ / "old.gguf"), "mine");
  auto r = run_command(quantize(s(dir_ / "old.gguf"), "--force"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(duq::test::read_text(dir_ / "old.gguf").substr(0, 4), "GGUF");
  fs::create_symlink("old.gguf", dir_ / "via-link.gguf");
  r = run_command(quantize(s(dir_ / "via-link.gguf"), "--force"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(dir_ / "via-link.gguf"));  // the link stays; the file it names was replaced
}

// Rule: two writers of one output without --force: exactly one wins, the other says so.
TEST_F(HostileFiles, RacingWritersExactlyOneWins) {
  const std::string out = s(dir_ / "race.gguf");
  const std::string q = quantize(out);
  auto r = run_command("(" + q + " >/dev/null 2>" + s(dir_ / "e1") + "; echo $? >" + s(dir_ / "rc1") + ") & (" + q +
                       " >/dev/null 2>" + s(dir_ / "e2") + "; echo $? >" + s(dir_ / "rc2") + ") & wait");
  const std::string rc1 = duq::test::read_text(dir_ / "rc1"), rc2 = duq::test::read_text(dir_ / "rc2");
  EXPECT_TRUE((rc1 == "0\n" && rc2 == "1\n") || (rc1 == "1\n" && rc2 == "0\n")) << rc1 << rc2;
  const std::string err = duq::test::read_text(dir_ / (rc1 == "1\n" ? "e1" : "e2"));
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_regular_file(out));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.path().filename().string().rfind("race.gguf", 0) == 0;
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
}

// Rule: directory outputs are built beside and swapped in: --force never replaces a folder of other things,
// a model directory is replaced whole (no stale files), and a failure leaves no directory.
TEST_F(HostileFiles, DirectoryOutputsSwappedInComplete) {
  const std::string synth = "synth --dim 16 --hidden 32 --layers 1 --heads 2 --vocab 300 --max-seq 64 --out ";
  fs::create_directories(dir_ / "mine");
  duq::test::write_bytes(dir_ / "mine" / "notes.md", "keep me");
  expect_one_line_error(run_command(cli(synth + s(dir_ / "mine"))), "--force");
  expect_one_line_error(run_command(cli(synth + s(dir_ / "mine") + " --force")), "not a model file");
  EXPECT_EQ(duq::test::read_text(dir_ / "mine" / "notes.md"), "keep me");
  // A model directory with a stale shard index: replaced whole, the index gone.
  auto r = run_command(cli(synth + s(dir_ / "model")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  duq::test::write_bytes(dir_ / "model" / "model.safetensors.index.json", "{}");
  r = run_command(cli(synth + s(dir_ / "model") + " --force --seed 9"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "model" / "model.safetensors.index.json"));
  // float16 overflow: refused naming the tensor, and no directory (nor a staging one) is left.
  r = run_command(cli(synth + s(dir_ / "f16") + " --dtype f16 --massive-tokens 5 --massive-scale 1e6"));
  if (r.exit_code == 1) {
    EXPECT_NE(r.err.find("float16"), std::string::npos) << r.err;
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_EQ(e.path().filename().string().rfind("f16", 0), std::string::npos) << e.path();
  }
  // A file where a directory output goes is never replaced.
  duq::test::write_bytes(dir_ / "file", "x");
  expect_one_line_error(run_command(cli(synth + s(dir_ / "file") + " --force")), "not a directory");
}

// Leftovers: bench e2e writes only inside --tmp, which must exist, and SIGTERM leaves it empty.
TEST_F(HostileFiles, BenchTmpNoLeftovers) {
  const std::string bench =
      "bench e2e --layers 1 --dim 32 --hidden 64 --heads 2 --kv-heads 2 --vocab 300 --prefill 8 "
      "--prompt 4 --decode 4 --steps 1 --tmp ";
  expect_one_line_error(run_command(cli(bench + s(dir_ / "none" / "x"))), "not an existing directory");
  EXPECT_FALSE(fs::exists(dir_ / "none"));
  fs::create_directories(dir_ / "t");
  auto r = run_command(cli(bench + s(dir_ / "t")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(dir_ / "t"));
  // SIGTERM while the temporary folder exists (polled), then the folder must be gone.
  const std::string big =
      "bench e2e --layers 2 --dim 256 --hidden 512 --heads 4 --kv-heads 4 --vocab 4000 --prefill 64 "
      "--prompt 8 --decode 64 --reps 50 --tmp " +
      s(dir_ / "t");
  r = run_command("(" + cli(big) + " >/dev/null 2>&1 & P=$!; for i in $(seq 1 400); do [ -n \"$(ls -A " +
                  s(dir_ / "t") + ")\" ] && break; sleep 0.05; done; sleep 0.3; kill -TERM $P; wait $P; echo $?)");
  EXPECT_NE(r.out.find("143"), std::string::npos) << r.out;  // died of SIGTERM (128 + 15), as before
  EXPECT_TRUE(fs::is_empty(dir_ / "t")) << "leftovers after SIGTERM";
}

// Out of memory under an address-space limit: a clean exit with a message, never a hang.
TEST_F(HostileFiles, OutOfMemoryExitsCleanly) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of shadow address space: it cannot start under ulimit -v";
#endif
  std::string big;
  for (int i = 0; i < 200000; ++i) big.append("p").append(std::to_string(260 + i % 40)).append(" ");
  duq::test::write_bytes(dir_ / "big.txt", big);
  for (const std::string& cmd : {"ppl --model " + s(dir_ / "m") + " --text " + s(dir_ / "big.txt") + " --ctx 32",
                                 "generate --model " + s(dir_ / "m") + " --max-tokens 4"}) {
    auto r = run_command("ulimit -v 200000; " + cli(cmd));
    EXPECT_NE(r.exit_code, 124) << "hung: " << cmd;
    if (r.exit_code != 0) expect_one_line_error(r, "out of memory");
  }
}

}  // namespace
