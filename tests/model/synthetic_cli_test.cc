// duquant synth with planted outliers, run as a user would: deterministic bytes for a seed, the plan printed,
// and the written model carries it (reserved residual channel zero except for the trigger tokens).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "model/hf_source.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

std::string synth_cmd(const fs::path& out, const std::string& extra) {
  return test::cli_path().string() + " synth --out " + out.string() +
         " --dim 64 --hidden 192 --layers 2 --heads 4 --vocab 40 --max-seq 32 --seed 5 " + extra;
}

TEST(SyntheticCli, PlantsOutliersDeterministically) {
  if (!fs::exists(test::cli_path())) GTEST_SKIP() << "build the duquant target first (" << test::cli_path() << ")";
  const std::string opts = "--outlier-channels 2 --outlier-scale 10 --massive-tokens 1,7 --massive-scale 200";
  const fs::path a = test::temp_dir("synth_outliers_a") / "m", b = test::temp_dir("synth_outliers_b") / "m";
  const auto ra = test::run_command(synth_cmd(a, opts)), rb = test::run_command(synth_cmd(b, opts));
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_EQ(test::read_text(a / "model.safetensors"), test::read_text(b / "model.safetensors"));
  const auto at = ra.out.find("massive: residual channel ");
  ASSERT_NE(at, std::string::npos) << ra.out;
  int ch = -1;
  std::istringstream(ra.out.substr(at + 26)) >> ch;
  ASSERT_GE(ch, 0);
  ASSERT_LT(ch, 64);
  const auto src = open_hf_weights(a.string());
  const Mat e = src->embedding();
  for (int v = 0; v < 40; ++v) {
    if (v == 1 || v == 7) EXPECT_GT(std::fabs(e(v, ch)), 1.f) << v;
    else EXPECT_EQ(e(v, ch), 0.f) << v;
  }
  // Without outlier options the same seed gives different bytes (the plan changed the weights).
  const fs::path c = test::temp_dir("synth_outliers_c") / "m";
  ASSERT_EQ(test::run_command(synth_cmd(c, "")).exit_code, 0);
  EXPECT_NE(test::read_text(a / "model.safetensors"), test::read_text(c / "model.safetensors"));
  // Bad trigger ids: one line, exit 1.
  const auto bad = test::run_command(synth_cmd(test::temp_dir("synth_outliers_d") / "m", "--massive-tokens 3,40"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("outside the vocabulary"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace duq::model
