// llama.cpp GGUF models through the CLI: llama.cpp's own conversion of stories260K gives llama-perplexity's
// numbers and the checkpoint's generations, and quantize → quantized file → integer engine from the GGUF gives
// what it gives from the checkpoint. Float and quantized .gguf files each reach the right reader.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>

#include "formats/gguf.h"
#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;

struct Files {
  fs::path a = test::assets_dir();
  std::string gguf = (a / "models/stories260K/stories260K-llamacpp-f32.gguf").string();
  std::string bin = (a / "models/stories260K/stories260K.bin").string();
  std::string eval = (a / "text/tinystories/eval.txt").string();
  std::string calib = (a / "text/tinystories/calib.txt").string();
  std::string cli = test::cli_path().string();
  bool ok() const { return fs::exists(gguf) && fs::exists(bin); }
};

double ppl_json(const std::string& cmd) {
  auto r = test::run_command(cmd + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out)["ppl"].get<double>() : -1;
}

TEST(GgufCli, PerplexityMatchesLlamaCpp) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  // llama.cpp c392e50's `llama-perplexity -m stories260K-llamacpp-f32.gguf -f eval.txt -c 512` prints the
  // running estimate after each chunk: [20] 3.7601 (and 4.2812 after all 378). Four decimals: ±5e-5.
  const double ours = ppl_json(f.cli + " ppl --model " + f.gguf + " --text " + f.eval +
                               " --ctx 512 --protocol llamacpp --max-windows 20");
  EXPECT_NEAR(ours, 3.7601, 5e-5 + 2e-4 * 3.7601);
  // The checkpoint it was converted from gives the very same number.
  EXPECT_EQ(ours, ppl_json(f.cli + " ppl --model " + f.bin + " --text " + f.eval +
                           " --ctx 512 --protocol llamacpp --max-windows 20"));
}

TEST(GgufCli, ConvertShipsTheVocabularyInsideTheDirectoryAndReplacesItWithForce) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  const fs::path dir = test::temp_dir("gguf_convert") / "hf";
  const std::string conv = f.cli + " convert --model " + f.gguf + " --out " + dir.string();
  auto r = test::run_command(conv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The directory arrives whole: weights, config and the vocabulary-only GGUF the tokenizer is read from.
  for (const char* name : {"config.json", "model.safetensors", "tokenizer.gguf"})
    EXPECT_TRUE(fs::is_regular_file(dir / name)) << name;
  r = test::run_command(conv);  // exists: refused without --force, the old directory untouched
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(fs::is_regular_file(dir / "tokenizer.gguf"));
  r = test::run_command(conv + " --force");  // a converted directory (with its tokenizer.gguf) is replaceable
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // And it is the same model: the same perplexity as the GGUF it came from.
  // ctx 128: the GGUF says 128 (llama.cpp's converter), and the converted config.json carries that limit
  const std::string tail = " --text " + f.eval + " --ctx 128 --protocol llamacpp --max-windows 8";
  const double from_gguf = ppl_json(f.cli + " ppl --model " + f.gguf + tail);
  EXPECT_NEAR(ppl_json(f.cli + " ppl --model " + dir.string() + tail), from_gguf, 1e-5 * from_gguf);
}

// `convert --out X.gguf` writes llama.cpp's layout. Independent golden: llama.cpp's own conversion of the same
// checkpoint (llama-convert-llama2c-to-ggml, the bundled stories260K-llamacpp-f32.gguf) holds the very same bytes
// in every tensor both files have (names, types, shapes, interleaved W_q/W_k rows), the same hyperparameters and
// the same vocabulary (pieces with "▁", scores, token types). llama.cpp stores the tied classifier again as
// output.weight; the converted file leaves it tied.
TEST(GgufCli, ConvertToGgufWritesWhatLlamaCppsConverterWrites) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  const fs::path out = test::temp_dir("gguf_export") / "ours.gguf";
  auto r = test::run_command(f.cli + " convert --model " + f.bin + " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ours = formats::GgufFile::open(out), theirs = formats::GgufFile::open(f.gguf);
  EXPECT_EQ(ours.get<std::string>("general.architecture"), "llama");
  for (const char* k : {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count"})
    EXPECT_EQ(ours.get<uint32_t>(k), theirs.get<uint32_t>(k)) << k;
  EXPECT_EQ(ours.get<float>("llama.attention.layer_norm_rms_epsilon"),
            theirs.get<float>("llama.attention.layer_norm_rms_epsilon"));
  EXPECT_EQ(ours.get_array<std::string>("tokenizer.ggml.tokens"),
            theirs.get_array<std::string>("tokenizer.ggml.tokens"));
  EXPECT_EQ(ours.get_array<float>("tokenizer.ggml.scores"), theirs.get_array<float>("tokenizer.ggml.scores"));
  EXPECT_EQ(ours.get_array<int32_t>("tokenizer.ggml.token_type"),
            theirs.get_array<int32_t>("tokenizer.ggml.token_type"));
  EXPECT_EQ(ours.get<std::string>("tokenizer.ggml.model"), "llama");
  // context_length: the checkpoint's 512 (llama.cpp's converter writes its own --ctx default, 128)
  EXPECT_EQ(ours.get<uint32_t>("llama.context_length"), 512u);
  size_t compared = 0;
  for (const auto& t : ours.tensors()) {
    const formats::GgufTensor* u = theirs.find_tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.type, u->type) << t.name;
    EXPECT_EQ(t.dims, u->dims) << t.name;
    ASSERT_EQ(t.nbytes, u->nbytes) << t.name;
    EXPECT_EQ(std::memcmp(t.data, u->data, static_cast<size_t>(t.nbytes)), 0) << t.name << ": bytes differ";
    ++compared;
  }
  EXPECT_EQ(compared + 1, theirs.tensors().size());  // all but llama.cpp's copy of the tied classifier
  EXPECT_EQ(ours.find_tensor("output.weight"), nullptr);
  // llama.cpp's F16 conversion type: --dtype f16 stores the matrices as F16 (norms stay F32); bf16 is refused.
  r = test::run_command(f.cli + " convert --model " + f.bin + " --dtype f16 --out " +
                        (out.parent_path() / "h.gguf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto half = formats::GgufFile::open(out.parent_path() / "h.gguf");
  EXPECT_EQ(half.tensor("blk.0.attn_q.weight").type, formats::GgmlType::F16);
  EXPECT_EQ(half.tensor("blk.0.attn_norm.weight").type, formats::GgmlType::F32);
  r = test::run_command(f.cli + " convert --model " + f.bin + " --dtype bf16 --out " +
                        (out.parent_path() / "b.gguf").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("f32 or f16"), std::string::npos) << r.err;
  // An existing output is kept without --force.
  r = test::run_command(f.cli + " convert --model " + f.bin + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(fs::is_regular_file(out));
}

// A Hugging Face directory (rotate-half W_q/W_k) converted to GGUF is the same model: the rows go back to the
// interleaved order, and duquant's GGUF reader gives the directory's greedy text and perplexity.
TEST(GgufCli, ConvertedHuggingFaceDirectoryRunsTheSameAsGguf) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  const fs::path dir = test::temp_dir("gguf_export_hf");
  auto r = test::run_command(f.cli + " convert --model " + f.bin + " --out " + (dir / "hf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_command(f.cli + " convert --model " + (dir / "hf").string() + " --out " + (dir / "m.gguf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string args = " --prompt 'Once upon a time' --temperature 0 -n 60";
  auto a = test::run_command(f.cli + " generate --model " + (dir / "hf").string() + args);
  auto b = test::run_command(f.cli + " generate --model " + (dir / "m.gguf").string() + args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_GT(a.out.size(), 60u);
  EXPECT_EQ(a.out, b.out);
  const std::string tail = " --text " + f.eval + " --ctx 128 --max-windows 6";
  const double p_hf = ppl_json(f.cli + " ppl --model " + (dir / "hf").string() + tail);
  EXPECT_NEAR(ppl_json(f.cli + " ppl --model " + (dir / "m.gguf").string() + tail), p_hf, 1e-5 * p_hf);
}

TEST(GgufCli, GreedyGenerationEqualsTheCheckpoints) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  const std::string args = " --prompt 'Once upon a time' --temperature 0 -n 200";
  auto g = test::run_command(f.cli + " generate --model " + f.gguf + args);
  auto b = test::run_command(f.cli + " generate --model " + f.bin + args);
  ASSERT_EQ(g.exit_code, 0) << g.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_GT(g.out.size(), 200u);
  EXPECT_EQ(g.out, b.out);
  // 200 tokens go beyond the file's context_length of 128: allowed as in llama.cpp, with a warning.
  EXPECT_NE(g.err.find("training context of 128"), std::string::npos) << g.err;
}

TEST(GgufCli, QuantizeFromGgufRunsTheIntegerEngineLikeFromTheCheckpoint) {
  Files f;
  if (!f.ok()) GTEST_SKIP();
  const auto dir = test::temp_dir("gguf_quantize");
  // llama.cpp's converter stores the shared classifier as its own output.weight (untied); f32 tables make the
  // untied pair and the checkpoint's one tied table hold the same values.
  const std::string flags = " --method duquant --wbits 4 --abits 4 --embed-type f32 --output-type f32 --calib " +
                            f.calib + " --nsamples 8 --calib-ctx 128 --block 64 --steps 32 --quiet --out ";
  auto qg = test::run_command(f.cli + " quantize --model " + f.gguf + flags + (dir / "g.gguf").string());
  ASSERT_EQ(qg.exit_code, 0) << qg.err;
  auto qb = test::run_command(f.cli + " quantize --model " + f.bin + flags + (dir / "b.gguf").string());
  ASSERT_EQ(qb.exit_code, 0) << qb.err;
  // The file made from the GGUF carries llama.cpp's vocabulary keys and says it needs format version 3.
  const auto q = formats::GgufFile::open(dir / "g.gguf");
  EXPECT_EQ(q.get<std::string>("duquant.tokenizer.kind"), "gguf");
  EXPECT_EQ(q.get<uint32_t>("duquant.format_version"), 3u);
  EXPECT_EQ(q.get_array<std::string>("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(formats::GgufFile::open(dir / "b.gguf").get<uint32_t>("duquant.format_version"), 2u);
  // Same weights, same calibration tokens, same quantizer: the integer engine gives the same perplexity
  // (ctx 512 runs past the GGUF's training context, as llama.cpp would).
  const std::string ppl = " --text " + f.eval + " --ctx 512 --max-windows 6";
  const double pg = ppl_json(f.cli + " ppl --model " + (dir / "g.gguf").string() + ppl);
  const double pb = ppl_json(f.cli + " ppl --model " + (dir / "b.gguf").string() + ppl);
  EXPECT_GT(pg, 1.0);
  EXPECT_EQ(pg, pb);
  // A quantized file is not a float model: quantize refuses it by what it is.
  auto again =
      test::run_command(f.cli + " quantize --model " + (dir / "g.gguf").string() + flags + (dir / "x.gguf").string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("a quantized duquant model"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace duq
