// `duquant quantize` on stories260K: the written .gguf runs through the integer kernels within 0.5% of
// the simulated perplexity (W4A4, W8A8) with --exact-rotations, and with the default int16 rotations within
// 0.5% (W8A8) / 4% (W4A4); the output-file rules; tampered files give clear errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "model/quant_model.h"
#include "stories260k_cli.h"
#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

struct QuantSetup : test::Stories260KCli {
  // Quantizes once per bit setting per test run; returns the file.
  fs::path quantized(const std::string& bits_flags, const std::string& name) const {
    auto dir = test::temp_dir("quantize_" + name);
    auto out = dir / (name + ".gguf");
    auto r = test::run_command(cli + " quantize --model " + model + " --calib " + calib +
                               " --nsamples 8 --calib-ctx 128 --block 64 --steps 64 --quiet " + bits_flags + " --out " +
                               out.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
};

void expect_error(const test::CommandResult& r, const std::string& must) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(must), std::string::npos) << r.err;
}

TEST(QuantizeStories260K, IntegerMatchesSimulatedW4A4AndW8A8) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  for (auto [flags, name] : {std::pair{"--wbits 4 --abits 4", "w4a4"}, std::pair{"--wbits 8 --abits 8", "w8a8"}}) {
    auto f = s.quantized(flags, name);
    // Faithfulness: with --exact-rotations the engine computes the simulation's transform (fp32 rotations),
    // so only the integer GEMM / KV-cache paths differ from it.
    auto r = test::run_command(s.cli + " ppl --model " + f.string() + " --text " + s.eval +
                               " --ctx 512 --max-windows 12 --check-simulated --json --exact-rotations");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_LT(j["relative_difference"].get<double>(), 0.005) << name << ": " << r.out;
    // The default int16 rotations (~3e-4 relative error on the rotated activations). W8A8 stays within 0.5%.
    // W4A4 on 12 windows is chaotically sensitive to any ~1e-4 perturbation of the activations; measured
    // |integer − simulated| / simulated with int16 rotations on this setting: 1.85% (seed 2, this file),
    // 1.29 / 1.14 / 1.21% (--seed 3 / 4 / 5), 0.43% (--auto), against 0.14% / 0.07% with exact rotations.
    // 4% (about twice the largest) keeps that spread and still catches a broken transform (O(1) ppl change).
    auto d = test::run_command(s.cli + " ppl --model " + f.string() + " --text " + s.eval +
                               " --ctx 512 --max-windows 12 --json");
    ASSERT_EQ(d.exit_code, 0) << d.err;
    const double ppl_int16 = nlohmann::json::parse(d.out)["ppl"].get<double>();
    const double sim = j["ppl_simulated"].get<double>();
    EXPECT_LT(std::abs(ppl_int16 - sim) / sim, name == std::string("w8a8") ? 0.005 : 0.04)
        << name << " int16 rotations: " << ppl_int16 << " vs simulated " << sim;
    EXPECT_NE(j["engine"].get<std::string>().find("integer"), std::string::npos);
    // The quantized model is worse than float but still a language model (float ≈ 4).
    EXPECT_GT(j["ppl"].get<double>(), 3.5);
    EXPECT_LT(j["ppl"].get<double>(), name == std::string("w8a8") ? 8.0 : 30.0);
  }
}

// duquant+learn folds its learned rotations into R₂ and --norm-tweak changes the stored norms: the file runs
// in the integer engine within the DuQuant tolerances above (0.5% with exact rotations, 4% with int16 ones).
TEST(QuantizeStories260K, LearnedRotationsAndNormTweakMatchSimulated) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  auto f = s.quantized("--wbits 4 --abits 4 --method duquant+learn --lwc-epochs 2 --norm-tweak --norm-tweak-epochs 2",
                       "w4a4_learn");
  auto r = test::run_command(s.cli + " ppl --model " + f.string() + " --text " + s.eval +
                             " --ctx 512 --max-windows 12 --check-simulated --json --exact-rotations");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LT(j["relative_difference"].get<double>(), 0.005) << r.out;
  auto d = test::run_command(s.cli + " ppl --model " + f.string() + " --text " + s.eval +
                             " --ctx 512 --max-windows 12 --json");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const double ppl_int16 = nlohmann::json::parse(d.out)["ppl"].get<double>(), sim = j["ppl_simulated"].get<double>();
  EXPECT_LT(std::abs(ppl_int16 - sim) / sim, 0.04) << ppl_int16 << " vs simulated " << sim;
  EXPECT_GT(sim, 3.5);
  EXPECT_LT(sim, 30.0);
}

TEST(QuantizeStories260K, GenerateRunsFromTheFileAlone) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  auto f = s.quantized("--wbits 8 --abits 8 --swc 1 --lac 1", "w8a8_gen");
  // No --tokenizer: the tokenizer travels inside the file.
  auto r = test::run_command(s.cli + " generate --model " + f.string() + " --temperature 0 --max-tokens 40");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;  // the float model's greedy start
  EXPECT_NE(r.err.find("integer W8A8"), std::string::npos) << r.err;
}

TEST(QuantizeOutputRules, NoOverwriteWithoutForceAndNeverTheInput) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  auto dir = test::temp_dir("quantize_rules");
  auto existing = dir / "existing.gguf";
  test::write_bytes(existing, "precious");
  std::string base =
      s.cli + " quantize --model " + s.model + " --calib " + s.calib + " --nsamples 2 --calib-ctx 64 --quiet";
  expect_error(test::run_command(base + " --out " + existing.string()), "--force");
  EXPECT_EQ(test::read_text(existing), "precious");
  expect_error(test::run_command(base + " --out " + s.model + " --force"), "is an input of this command");
  expect_error(test::run_command(base + " --out /no/such/dir/x.gguf"), "/no/such/dir");
}

TEST(QuantizeBadInput, ClearErrors) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  auto dir = test::temp_dir("quantize_bad");
  std::string base = s.cli + " quantize --model " + s.model + " --quiet --out " + (dir / "x.gguf").string();
  expect_error(test::run_command(base + " --calib " + s.calib + " --wbits 9"),
               "--wbits: '9' is not an integer in [2, 8]");
  expect_error(test::run_command(base + " --calib " + s.calib + " --method gptz"), "--method: gptz not in");
  expect_error(test::run_command(base + " --calib " + s.calib + " --block 100 --nsamples 2 --calib-ctx 64"),
               "--block 100 is larger than the 64-wide input");
  test::write_bytes(dir / "short.txt", "Once upon a time there was a cat.");
  // Too short for even the fallback's one window of 512 tokens: the error says what would run.
  expect_error(test::run_command(base + " --calib " + (dir / "short.txt").string()), "short.txt");
  expect_error(test::run_command(base + " --calib " + (dir / "short.txt").string()), "pass --nsamples 1 --calib-ctx ");
  // Both given and too many: the counts that fit are named.
  expect_error(test::run_command(base + " --calib " + s.calib + " --nsamples 100000 --calib-ctx 512"),
               "requested (--nsamples × --calib-ctx); pass --nsamples ");
  expect_error(test::run_command(base + " --calib " + s.calib + " --embed-type q4_0"), "--embed-type: q4_0 not in");
  expect_error(test::run_command(base + " --calib " + s.calib + " --output-type q8_0"), "--output-type: q8_0 not in");
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

// Defaults that the text cannot fill (128 × 512 on stories260K from a ~12k-token text) fall back to 32 windows of
// 512 tokens, fewer when the text is shorter, with a note; the file records what was used.
TEST(QuantizeCalibration, DefaultsFallBackToWhatTheTextHolds) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  auto dir = test::temp_dir("quantize_fallback");
  const std::string text = test::read_text(s.calib);
  test::write_bytes(dir / "part.txt", text.substr(0, 48000));
  auto r = test::run_command(s.cli + " quantize --model " + s.model + " --calib " + (dir / "part.txt").string() +
                             " --method rtn --steps 2 --quiet --out " + (dir / "q.gguf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.err.find("fewer than 128 × 512 (--nsamples × --calib-ctx); calibrating on ");
  ASSERT_NE(at, std::string::npos) << r.err;
  int n = 0, len = 0;
  ASSERT_EQ(
      std::sscanf(r.err.c_str() + at + std::strlen("fewer than 128 × 512 (--nsamples × --calib-ctx); calibrating on "),
                  "%d × %d", &n, &len),
      2)
      << r.err;
  EXPECT_EQ(len, 512);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 32);
  EXPECT_NE(r.out.find("calibrated on " + std::to_string(n) + " × 512 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stages: reading weights"), std::string::npos) << r.out;
}

// The float tables' storage (docs/quantized-format.md): stories260K has a tied table, stored at --output-type
// (f16) by default and as Q8_0 when asked; the GGUF tensor type records it and the file runs.
TEST(QuantizeTables, TiedTableDefaultsToTheOutputTypeAndQ8_0OnRequest) {
  QuantSetup s;
  if (!s.ok()) GTEST_SKIP();
  using model::TableType;
  int i = 0;
  for (auto [flags, type] : {std::pair{"", TableType::F16}, std::pair{"--embed-type q8_0", TableType::Q8_0},
                             std::pair{"--output-type f32", TableType::F32}}) {
    auto f = s.quantized(std::string("--method rtn ") + flags, "tables" + std::to_string(i++));
    EXPECT_EQ(model::read_quant_model(f.string()).embed_type, type) << flags;
    auto r =
        test::run_command(s.cli + " ppl --model " + f.string() + " --text " + s.eval + " --ctx 512 --max-windows 2");
    EXPECT_EQ(r.exit_code, 0) << flags << r.err;
  }
}

// --- tampered files: each a clear error naming the file and the problem ---

class TamperedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!s_.ok()) GTEST_SKIP();
    static fs::path good = s_.quantized("--wbits 4 --abits 4", "tamper_src");
    good_ = good;
    dir_ = test::temp_dir("tampered");
  }
  std::string read_error(const fs::path& p) {
    try {
      model::read_quant_model(p.string());
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for " << p;
    return "";
  }
  QuantSetup s_;
  fs::path good_, dir_;
};

TEST_F(TamperedFile, BadMagic) {
  std::string b = test::read_text(good_);
  b[0] = 'X';
  test::write_bytes(dir_ / "magic.gguf", b);
  EXPECT_NE(read_error(dir_ / "magic.gguf").find("magic"), std::string::npos);
}

TEST_F(TamperedFile, NewerFormatVersion) {
  std::string b = test::read_text(good_);
  const std::string key = "duquant.format_version";
  size_t at = b.find(key);
  ASSERT_NE(at, std::string::npos);
  const uint32_t v = 99;  // key, then u32 type (4 bytes), then the u32 value
  std::memcpy(&b[at + key.size() + 4], &v, 4);
  test::write_bytes(dir_ / "version.gguf", b);
  std::string e = read_error(dir_ / "version.gguf");
  EXPECT_NE(e.find("newer"), std::string::npos) << e;
  EXPECT_NE(e.find("version.gguf"), std::string::npos) << e;
}

TEST_F(TamperedFile, TruncatedTensorPastTheEnd) {
  std::string b = test::read_text(good_);
  test::write_bytes(dir_ / "cut.gguf", b.substr(0, b.size() - 1000));
  std::string e = read_error(dir_ / "cut.gguf");
  EXPECT_NE(e.find("cut.gguf"), std::string::npos) << e;
}

TEST_F(TamperedFile, WrongPackedSizeAndMissingTransform) {
  model::QuantModelData d = model::read_quant_model(good_.string());
  model::QuantModelData short_w = d;
  short_w.layers[1].w_up.data.resize(short_w.layers[1].w_up.data.size() - 16);
  model::write_quant_model((dir_ / "packed.gguf").string(), short_w);
  std::string e = read_error(dir_ / "packed.gguf");
  EXPECT_NE(e.find("blk.1.ffn_up.q"), std::string::npos) << e;
  EXPECT_NE(e.find("bytes, expected"), std::string::npos) << e;

  model::QuantModelData no_perm = d;
  ASSERT_EQ(no_perm.layers[2].sites[3].kind, model::OnlineTransform::Kind::DuQuant);
  no_perm.layers[2].sites[3].perms.clear();
  model::write_quant_model((dir_ / "perm.gguf").string(), no_perm);
  e = read_error(dir_ / "perm.gguf");
  EXPECT_NE(e.find("blk.2.down_in.perm0"), std::string::npos) << e;
}

}  // namespace
}  // namespace duq
