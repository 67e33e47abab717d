// Hostile inputs through the command line on a Hugging Face directory (no assets needed: the model is
// `duquant synth` output, the tokenizer a hand-made tokenizer.bin): a tokenizer whose vocabulary does
// not match the model, and an empty text file. Each must be exit 1 with one line naming the problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "test_support.h"

namespace fs = std::filesystem;

namespace {

using duq::test::expect_one_line_error;
using duq::test::tokenizer_bin;

// A synthetic HF model with a vocabulary of 300 in `dir` (created).
fs::path synth_model(const std::string& name) {
  const fs::path dir = duq::test::temp_dir(name) / "m";
  auto r = duq::test::run_command(duq::test::cli_path().string() + " synth --out " + dir.string() +
                                  " --dim 16 --hidden 32 --layers 1 --heads 2 --vocab 300 --max-seq 64 --seed 3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

std::string cli(const std::string& args) { return duq::test::cli_path().string() + " " + args; }

}  // namespace

// The HF-directory variant of CliErrors.TokenizerThatDoesNotMatchTheModel: the tokenizer.bin found next
// to config.json (and the same file passed explicitly) has 270 tokens, the model 300.
TEST(HostileCli, HfDirTokenizerVocabularyMismatch) {
  const fs::path dir = synth_model("hostile_cli_vocab");
  duq::test::write_bytes(dir / "tokenizer.bin", tokenizer_bin(270));
  auto r = duq::test::run_command(cli("generate --model " + dir.string() + " --max-tokens 4 --temperature 0"));
  expect_one_line_error(r, "vocabulary");
  EXPECT_NE(r.err.find((dir / "tokenizer.bin").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("270"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("300"), std::string::npos) << r.err;

  const fs::path other = dir.parent_path() / "other.bin";
  duq::test::write_bytes(other, tokenizer_bin(512));
  r = duq::test::run_command(
      cli("ppl --model " + dir.string() + " --tokenizer " + other.string() + " --text " + other.string() + " --ctx 8"));
  expect_one_line_error(r, "vocabulary");
  EXPECT_NE(r.err.find("other.bin"), std::string::npos) << r.err;

  // Control: the matching vocabulary runs.
  duq::test::write_bytes(dir / "tokenizer.bin", tokenizer_bin(300));
  r = duq::test::run_command(cli("generate --model " + dir.string() + " --max-tokens 4 --temperature 0"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(HostileCli, HfDirEmptyText) {
  const fs::path dir = synth_model("hostile_cli_empty");
  duq::test::write_bytes(dir / "tokenizer.bin", tokenizer_bin(300));
  duq::test::write_bytes(dir.parent_path() / "empty.txt", "");
  expect_one_line_error(duq::test::run_command(cli("ppl --model " + dir.string() + " --text " +
                                                   (dir.parent_path() / "empty.txt").string() + " --ctx 8")),
                        "empty");
}
