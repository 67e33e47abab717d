// A Hugging Face directory with tokenizer.json and no tokenizer.model (as LLaMA-3 ships): the CLI picks the
// byte-level BPE tokenizer by itself or by --tokenizer, and quantize stores it in the quantized file, whose
// integer engine then tokenizes the same way.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "test_support.h"
#include "tokenizer_json_fixture.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

TEST(CliTokenizerJson, FoundInTheDirectoryNamedAndCarriedIntoTheQuantizedFile) {
  const auto dir = test::temp_dir("tokenizer_json_cli");
  const std::string cli = test::cli_path().string(), model = (dir / "m").string();
  // 1003 tokens: 256 bytes, "hi", fillers, <|begin_of_text|>, <|eot_id|>, <|end_of_text|> (fixture).
  auto s = test::run_command(cli + " synth --out " + model +
                             " --dim 32 --hidden 64 --layers 2 --heads 4 --vocab 1003 "
                             "--max-seq 64 --seed 3");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  test::write_bytes(fs::path(model) / "tokenizer.json", test::tokenizer_json({"hi"}, {"h i"}));
  std::string text;
  for (int i = 0; i < 40; ++i) text += "hi there <|eot_id|> hi\n";
  test::write_bytes(dir / "text.txt", text);
  const std::string ppl_args = " --text " + (dir / "text.txt").string() + " --ctx 32 --json";

  auto found = test::run_command(cli + " ppl --model " + model + ppl_args);
  ASSERT_EQ(found.exit_code, 0) << found.err;
  auto named =
      test::run_command(cli + " ppl --model " + model + " --tokenizer " + model + "/tokenizer.json" + ppl_args);
  ASSERT_EQ(named.exit_code, 0) << named.err;
  const auto jf = nlohmann::json::parse(found.out), jn = nlohmann::json::parse(named.out);
  EXPECT_EQ(jf["ppl"], jn["ppl"]);
  // Token count worked out by hand per line "hi there <|eot_id|> hi\n": pieces "hi" → 1 (merged), " there" → 6
  // bytes, " " → 1, <|eot_id|> → 1, " hi" → 2 (Ġ + "hi"), "\n" → 1: 12 per line, 40 lines, + BOS.
  EXPECT_EQ(jf["tokens_total"].get<int>(), 40 * 12 + 1);

  const std::string q = (dir / "q.gguf").string();
  auto qr = test::run_command(cli + " quantize --model " + model + " --calib " + (dir / "text.txt").string() +
                              " --nsamples 4 --calib-ctx 32 --method rtn --wbits 8 --abits 8 --quiet --out " + q);
  ASSERT_EQ(qr.exit_code, 0) << qr.err;
  const auto f = formats::GgufFile::open(q);
  EXPECT_EQ(f.get<std::string>("duquant.tokenizer.kind"), "tokenizer.json");
  EXPECT_EQ(f.get<uint32_t>("duquant.format_version"), 3u);
  auto qp = test::run_command(cli + " ppl --model " + q + ppl_args);
  ASSERT_EQ(qp.exit_code, 0) << qp.err;
  EXPECT_EQ(nlohmann::json::parse(qp.out)["tokens_total"], jf["tokens_total"]);
}

}  // namespace
}  // namespace duq
