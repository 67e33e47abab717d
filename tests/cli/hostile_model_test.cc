// Hostile inputs on the bundled stories260K: the quantized file's integrity (bit flips anywhere, a patched
// bit width), a quantized .gguf given where a float model belongs, float16 overflow in convert, a
// non-finite perplexity, compare's settings line and the bounded tokenization of ppl --max-windows.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "formats/file_kind.h"
#include "test_support.h"

namespace fs = std::filesystem;
using duq::test::expect_one_line_error;
using duq::test::run_command;

namespace {

class HostileModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(model())) return;
    dir_ = duq::test::temp_dir("hostile_model");
    const auto r =
        run_command(cli("quantize --model " + model() + " --calib " + calib() +
                        " --nsamples 4 --calib-ctx 64 --steps 8 --quiet --out " + (dir_ / "q.gguf").string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void SetUp() override {
    if (!fs::exists(model())) GTEST_SKIP() << "assets not found";
  }
  static std::string a(const std::string& rel) { return (duq::test::assets_dir() / rel).string(); }
  static std::string model() { return a("models/stories260K/stories260K.bin"); }
  static std::string calib() { return a("text/tinystories/calib.txt"); }
  static std::string text() { return a("text/tinystories/eval.txt"); }
  static std::string cli(const std::string& args) {
    return "timeout 120 " + duq::test::cli_path().string() + " " + args;
  }
  static std::string ppl(const fs::path& m, const std::string& extra = "") {
    return cli("ppl --model " + m.string() + " --text " + text() + " --ctx 128 --max-windows 2 " + extra);
  }
  static fs::path dir_;
};
fs::path HostileModel::dir_;

// Every bit flip in the file is found on load (the XXH3 checksums), never a run with other numbers.
TEST_F(HostileModel, EveryBitFlipIsRefused) {
  const std::string good = duq::test::read_text(dir_ / "q.gguf");
  ASSERT_EQ(run_command(ppl(dir_ / "q.gguf")).exit_code, 0);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i) {
    std::string b = good;
    // Half in the header (metadata and tensor table), half anywhere.
    const size_t at = i % 2 ? rng() % b.size() : rng() % 4096;
    b[at] = static_cast<char>(b[at] ^ (1 << (rng() % 8)));
    duq::test::write_bytes(dir_ / "flip.gguf", b);
    const auto r = run_command(ppl(dir_ / "flip.gguf"));
    SCOPED_TRACE("byte " + std::to_string(at));
    if (r.exit_code == 0) {  // only a flip in the padding between tensors may load: the same numbers then
      EXPECT_EQ(r.out, run_command(ppl(dir_ / "q.gguf")).out);
      continue;
    }
    expect_one_line_error(r, "flip.gguf");
  }
}

// duquant.wbits patched 4 → 2: refused (header checksum), and with the checksum keys gone too (the codes
// hold 4-bit values: the declared width is cross-checked against the packed weights).
TEST_F(HostileModel, PatchedBitWidthIsRefused) {
  std::string b = duq::test::read_text(dir_ / "q.gguf");
  const std::string key = "duquant.wbits";
  const size_t at = b.find(key);
  ASSERT_NE(at, std::string::npos);
  b[at + key.size() + 4] = 2;  // key, u32 type, then the u32 value
  duq::test::write_bytes(dir_ / "w2.gguf", b);
  expect_one_line_error(run_command(ppl(dir_ / "w2.gguf")), "checksum");
}

TEST_F(HostileModel, QuantizedFileWhereAFloatModelBelongs) {
  const std::string q = (dir_ / "q.gguf").string();
  EXPECT_EQ(duq::formats::sniff_model_file(q), duq::formats::FileKind::GgufDuquant);
  EXPECT_EQ(duq::formats::sniff_model_file(model()), duq::formats::FileKind::Llama2c);
  EXPECT_EQ(duq::formats::sniff_model_file(a("models/stories260K/stories260K-llamacpp-f32.gguf")),
            duq::formats::FileKind::GgufFloat);
  for (const std::string& cmd :
       {"quantize --model " + q + " --calib " + calib() + " --out " + (dir_ / "x.gguf").string(),
        "convert --model " + q + " --out " + (dir_ / "x").string(),
        "compare --model " + q + " --calib " + calib() + " --text " + text(),
        "inspect --model " + q + " --calib " + calib() + " --out " + (dir_ / "x.html").string()})
    expect_one_line_error(run_command(cli(cmd)), "quantized duquant model");
  expect_one_line_error(
      run_command(cli("ppl --model " + model() + " --tokenizer " + a("models/stories260K/tok512.bin") + " --text " +
                      text() + " --check-simulated")),
      "--check-simulated");
}

// A weight float16 cannot hold: convert --dtype f16 refuses naming the tensor, leaves no directory; the
// float run of the same model reports a non-finite perplexity as an error, never "inf" or null.
TEST_F(HostileModel, HugeWeight) {
  std::string b = duq::test::read_text(model());
  const float huge = 1e30f;
  std::memcpy(&b[28 + 4 * 100], &huge, 4);  // a token embedding value (the table follows the 28-byte header)
  fs::create_directories(dir_ / "huge");
  duq::test::write_bytes(dir_ / "huge" / "model.bin", b);
  const std::string tok = a("models/stories260K/tok512.bin");
  auto r = run_command(cli("convert --model " + (dir_ / "huge" / "model.bin").string() + " --tokenizer " + tok +
                           " --dtype f16 --out " + (dir_ / "huge-hf").string()));
  expect_one_line_error(r, "float16");
  EXPECT_NE(r.err.find("embed_tokens"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "huge-hf"));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find("huge-hf"), std::string::npos);
  // Token 0 is not in the text; make every token's row huge so the run sees it.
  for (size_t k = 0; k < 512 * 64; k += 64) std::memcpy(&b[28 + 4 * k], &huge, 4);
  duq::test::write_bytes(dir_ / "huge" / "model.bin", b);
  r = run_command(cli("ppl --json --model " + (dir_ / "huge" / "model.bin").string() + " --tokenizer " + tok +
                      " --text " + text() + " --ctx 64 --max-windows 2"));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // (stderr also has the progress line)
  EXPECT_NE(r.err.find("error: the perplexity of the model is not finite"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("null"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("inf"), std::string::npos) << r.out;
}

TEST_F(HostileModel, CompareSettingsLineDescribesTheRows) {
  const auto r =
      run_command(cli("compare --model " + model() + " --calib " + calib() + " --text " + text() +
                      " --nsamples 2 --calib-ctx 64 --ctx 64 --max-windows 2 --methods rtn --bits W8A8 --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("settings: rtn W8A8"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("duquant W4A4"), std::string::npos) << r.out;
}

// ppl --max-windows tokenizes only the start of the text: the same numbers as with the text cut short by
// hand, however much text follows.
TEST_F(HostileModel, MaxWindowsTokenizesAPrefixWithTheSameResult) {
  std::string t = duq::test::read_text(text());
  std::string big;
  for (int i = 0; i < 50; ++i) big += t;  // ~20 MB: over the 16 MB below which the text is tokenized whole
  duq::test::write_bytes(dir_ / "big.txt", big);
  const std::string base = cli("ppl --json --model " + model() + " --tokenizer " + a("models/stories260K/tok512.bin") +
                               " --ctx 64 --max-windows 3 --text ");
  const auto small = run_command(base + text());
  const auto large = run_command(base + (dir_ / "big.txt").string());
  ASSERT_EQ(small.exit_code, 0) << small.err;
  ASSERT_EQ(large.exit_code, 0) << large.err;
  auto ppl_of = [](const std::string& json) { return json.substr(json.find("\"ppl\""), 30); };
  EXPECT_EQ(ppl_of(small.out), ppl_of(large.out));
}

}  // namespace
