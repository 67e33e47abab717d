// duquant synth, run as a user would: writes a readable HF directory, refuses to overwrite, one-line errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace fs = std::filesystem;

namespace {
std::string synth_cmd(const fs::path& out, const std::string& extra = "") {
  return duq::test::cli_path().string() + " synth --out " + out.string() +
         " --dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --vocab 40 --max-seq 32 --seed 5 " + extra;
}
}  // namespace

TEST(CliSynth, WritesConfigAndWeights) {
  const fs::path out = duq::test::temp_dir("cli_synth") / "m";
  auto r = duq::test::run_command(synth_cmd(out, "--dtype bf16"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "config.json"));
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  EXPECT_NE(r.out.find("parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BF16"), std::string::npos) << r.out;
  const std::string cfg = duq::test::read_text(out / "config.json");
  EXPECT_NE(cfg.find("\"num_key_value_heads\": 2"), std::string::npos) << cfg;

  // Same seed → same bytes.
  const fs::path out2 = duq::test::temp_dir("cli_synth2") / "m";
  ASSERT_EQ(duq::test::run_command(synth_cmd(out2, "--dtype bf16")).exit_code, 0);
  EXPECT_EQ(duq::test::read_text(out / "model.safetensors"), duq::test::read_text(out2 / "model.safetensors"));

  // Existing directory: refused with one line naming it, accepted with --force.
  r = duq::test::run_command(synth_cmd(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(out.string()), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(duq::test::run_command(synth_cmd(out, "--force")).exit_code, 0);
}

TEST(CliSynth, RejectsBadShapes) {
  const fs::path out = duq::test::temp_dir("cli_synth_bad") / "m";
  auto r = duq::test::run_command(duq::test::cli_path().string() + " synth --out " + out.string() +
                                  " --dim 30 --hidden 64 --layers 2 --heads 4 --vocab 40");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a multiple of n_heads"), std::string::npos) << r.err;
  r = duq::test::run_command(synth_cmd(out, "--dtype q4"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--dtype"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}
