// The duquant command line as a user runs it: golden output, exit codes and one-line errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

struct Cli {
  fs::path a = test::assets_dir();
  std::string model = (a / "models/stories260K/stories260K.bin").string();
  std::string tok = (a / "models/stories260K/tok512.bin").string();
  std::string run(const std::string& args) const { return test::cli_path().string() + " " + args; }
};

#define SKIP_WITHOUT_ASSETS(c) \
  if (!fs::exists((c).model)) GTEST_SKIP() << "assets not found"

using test::expect_one_line_error;  // tests/support

TEST(CliGenerate, GreedyFromBosPrintsReferenceText) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  auto r = test::run_command(
      c.run("generate --model " + c.model + " --tokenizer " + c.tok + " --temperature 0 --max-tokens 256"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto g = nlohmann::json::parse(test::read_text(c.a / "golden/stories260K-greedy-bos.json"));
  std::string want = g["text"].get<std::string>();
  if (want[0] == ' ') want.erase(0, 1);
  EXPECT_EQ(r.out, want + "\n");
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos);
}

TEST(CliPpl, JsonHasProtocolFields) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  auto r = test::run_command(c.run("ppl --model " + c.model + " --tokenizer " + c.tok + " --text " +
                                   (c.a / "text/tinystories/eval.txt").string() + " --ctx 256 --max-windows 4 --json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["windows"], 4);
  EXPECT_EQ(j["scored"], 4 * 255);  // ctx−1 predictions per window
  EXPECT_GT(j["tokens_total"].get<long>(), 4 * 256);
  EXPECT_NEAR(std::exp(j["nll"].get<double>()), j["ppl"].get<double>(), 1e-9 * j["ppl"].get<double>());
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_LT(j["ppl"].get<double>(), 20.0);  // the float model on in-domain text (≈ 4–5)
}

TEST(CliErrors, MissingModel) {
  Cli c;
  expect_one_line_error(test::run_command(c.run("generate --model /no/such/model.bin")), "/no/such/model.bin");
}

TEST(CliErrors, TruncatedCheckpoint) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  auto dir = test::temp_dir("cli_trunc");
  std::string b = test::read_text(c.model);
  test::write_bytes(dir / "cut.bin", b.substr(0, b.size() / 2));
  expect_one_line_error(
      test::run_command(c.run("generate --model " + (dir / "cut.bin").string() + " --tokenizer " + c.tok)), "cut.bin");
}

TEST(CliErrors, TruncatedTokenizer) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  auto dir = test::temp_dir("cli_tok_trunc");
  std::string b = test::read_text(c.tok);
  test::write_bytes(dir / "tok.bin", b.substr(0, b.size() - 3));
  expect_one_line_error(
      test::run_command(c.run("generate --model " + c.model + " --tokenizer " + (dir / "tok.bin").string())),
      "tok.bin");
}

TEST(CliErrors, TokenizerThatDoesNotMatchTheModel) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  expect_one_line_error(test::run_command(c.run("generate --model " + c.model + " --tokenizer " +
                                                (c.a / "tokenizers/llama2/tokenizer.bin").string())),
                        "vocabulary");
}

TEST(CliErrors, ContextLongerThanModel) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  expect_one_line_error(test::run_command(c.run("ppl --model " + c.model + " --tokenizer " + c.tok + " --text " +
                                                (c.a / "text/tinystories/eval.txt").string() + " --ctx 4096")),
                        "4096");
}

TEST(CliErrors, EmptyTextAndBadFlag) {
  Cli c;
  SKIP_WITHOUT_ASSETS(c);
  auto dir = test::temp_dir("cli_empty");
  test::write_bytes(dir / "empty.txt", "");
  expect_one_line_error(test::run_command(c.run("ppl --model " + c.model + " --tokenizer " + c.tok + " --text " +
                                                (dir / "empty.txt").string())),
                        "empty");
  auto r = test::run_command(c.run("ppl --model " + c.model + " --no-such-flag"));
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace duq
