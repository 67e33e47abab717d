// Killing `duquant quantize` mid-run never costs the user a file: no partial output appears and a
// pre-existing output (being replaced with --force) is unchanged — for SIGKILL (uncatchable) and SIGTERM.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

void kill_mid_run(const char* signal) {
  fs::path a = test::assets_dir();
  if (!fs::exists(a / "models/stories260K/stories260K.bin")) GTEST_SKIP();
  auto dir = test::temp_dir(std::string("quantize_kill_") + signal);
  auto out = dir / "model.gguf";
  test::write_bytes(out, "the user's previous model");
  // Start quantize in the background, wait until calibration has started (its settings line is on
  // stderr), then kill it. The run is long enough (64 windows × 512 tokens, 256 steps) to be mid-work.
  const std::string cmd =
      "cd " + dir.string() + " && (" + test::cli_path().string() + " quantize --model " +
      (a / "models/stories260K/stories260K.bin").string() + " --calib " + (a / "text/tinystories/calib.txt").string() +
      " --nsamples 64 --calib-ctx 512 --force --out model.gguf 2> err.txt & echo $! > pid); "
      "for i in $(seq 1 200); do grep -q settings err.txt 2>/dev/null && break; sleep 0.05; done; "
      "sleep 0.3; kill -" +
      std::string(signal) +
      " $(cat pid); "
      // dead or a zombie (state Z) counts as gone; wait up to 5 s
      "for i in $(seq 1 100); do s=$(ps -o stat= -p $(cat pid) 2>/dev/null); "
      "case \"$s\" in ''|Z*) break;; esac; sleep 0.05; done; "
      "s=$(ps -o stat= -p $(cat pid) 2>/dev/null); case \"$s\" in ''|Z*) ;; *) echo STILL_RUNNING;; esac; "
      "echo done";
  auto r = test::run_command(cmd);
  ASSERT_NE(r.out.find("done"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("STILL_RUNNING"), std::string::npos);
  EXPECT_NE(test::read_text(dir / "err.txt").find("settings"), std::string::npos) << "killed before it started";
  EXPECT_EQ(test::read_text(out), "the user's previous model");
  // No partial file: nothing but the old model, the pid file and the log.
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "model.gguf" || name == "pid" || name == "err.txt") << "left behind: " << name;
  }
}

TEST(QuantizeKilled, SigkillLeavesTheOldOutputIntact) { kill_mid_run("KILL"); }
TEST(QuantizeKilled, SigtermLeavesTheOldOutputIntact) { kill_mid_run("TERM"); }

}  // namespace
}  // namespace duq
