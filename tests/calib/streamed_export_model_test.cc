// quantize_to_file_data (each block packed as soon as it is done, its float weights and codes freed) writes
// the very bytes of the whole-model path, to_file_data(quantize_model(...)) — on stories260K (GQA, a 44-wide
// rotation tail) with DuQuant and DuQuant+GPTQ (the Hessian windows), and on a synthetic two-block MHA model
// with every stage of duquant-auto's choice; and the streamed result keeps no block.
#include <gtest/gtest.h>

#include "calib/export.h"
#include "core/rng.h"
#include "model/synthetic.h"
#include "test_support.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

namespace fs = std::filesystem;

std::vector<std::vector<int>> random_windows(int n, int len, int vocab, uint64_t seed) {
  Rng r(seed);
  std::vector<std::vector<int>> w(static_cast<size_t>(n), std::vector<int>(static_cast<size_t>(len)));
  for (auto& win : w)
    for (auto& t : win) t = static_cast<int>(r.below(static_cast<uint64_t>(vocab)));
  return w;
}

std::string file_bytes(model::QuantModelData d, const fs::path& path) {
  d.tokenizer_kind = "llama2c";
  d.tokenizer_bytes = "tokenizer bytes";
  model::write_quant_model(path.string(), d);
  return test::read_text(path);
}

void expect_streamed_equals_whole(const model::WeightSource& src, const QuantOptions& o,
                                  const std::vector<std::vector<int>>& windows, const std::string& name) {
  const fs::path dir = test::temp_dir(name);
  const QuantizedModel whole = quantize_model(src, windows, o);
  const std::string a = file_bytes(to_file_data(whole, "llama2c", ""), dir / "whole.gguf");
  QuantizedModel streamed;
  const std::string b = file_bytes(quantize_to_file_data(src, windows, o, streamed), dir / "streamed.gguf");
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << name << ": " << a.size() << " vs " << b.size() << " bytes";
  // Nothing of the blocks is kept: no float model, no codes, no [T×H] pictures.
  EXPECT_EQ(streamed.model, nullptr);
  EXPECT_TRUE(streamed.codes.empty());
  ASSERT_EQ(streamed.report.size(), static_cast<size_t>(src.config().n_layers));
  for (const auto& layer : streamed.report)
    for (const auto& site : layer) EXPECT_EQ(site.abs_before.size() + site.abs_after.size(), 0);
  EXPECT_EQ(streamed.report.back()[model::kNumSites - 1].absmax_after,
            whole.report.back()[model::kNumSites - 1].absmax_after);
}

TEST(StreamedExport, Stories260kBytesEqualWholeModelPath) {
  const fs::path p = test::assets_dir() / "models/stories260K/stories260K.bin";
  if (!fs::exists(p)) GTEST_SKIP() << "assets missing";
  auto src = model::open_weights(p.string());
  const auto windows = random_windows(4, 48, src->config().vocab_size, 3);
  QuantOptions o;
  o.block = 64;
  o.steps = 16;
  o.progress = false;
  expect_streamed_equals_whole(*src, o, windows, "streamed_duquant");
  o.method = Method::DuQuantGptq;
  expect_streamed_equals_whole(*src, o, windows, "streamed_duquant_gptq");
}

TEST(StreamedExport, SyntheticAutoBytesEqualWholeModelPath) {
  const model::ModelConfig c = test::tiny_config(64, 96, 2, 50, 64);
  const model::MemoryWeights src(c, model::random_weights(c, 11));
  QuantOptions o;
  o.method = Method::DuQuantAuto;
  o.block = 32;
  o.steps = 8;
  o.auto_rows = 32;
  o.progress = false;
  expect_streamed_equals_whole(src, o, random_windows(3, 24, c.vocab_size, 4), "streamed_auto");
}

}  // namespace
}  // namespace duq::calib
