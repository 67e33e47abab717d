// The stories260K llama2.c checkpoint written as a Hugging Face directory reads back bit for bit, with
// its interleaved RoPE layout recorded in config.json.
#include <gtest/gtest.h>

#include "config_expect.h"
#include "model/hf_source.h"
#include "model/weights.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace duq::model;

namespace {
void expect_same(const duq::Mat& a, const duq::Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << what << " element " << i;
}
}  // namespace

TEST(HfSourceModel, Stories260KRoundTripsThroughHfDirectory) {
  const fs::path bin = duq::test::assets_dir() / "models" / "stories260K" / "stories260K.bin";
  if (!fs::exists(bin)) GTEST_SKIP() << "no " << bin;
  auto src = open_weights(bin.string());
  const ModelConfig c = src->config();
  const ModelWeights w = src->load_all();

  const fs::path dir = duq::test::temp_dir("hf_stories260K") / "hf";
  write_hf_model(dir.string(), c, w, duq::formats::DType::F32);
  auto hf = open_weights(dir.string());  // the directory dispatch of open_weights
  duq::test::expect_same_config(hf->config(), c);

  const ModelWeights h = hf->load_all();
  expect_same(h.embed, w.embed, "embed");
  for (size_t l = 0; l < w.layers.size(); ++l) {
    expect_same(h.layers[l].wq, w.layers[l].wq, "wq");
    expect_same(h.layers[l].wk, w.layers[l].wk, "wk");
    expect_same(h.layers[l].wv, w.layers[l].wv, "wv");
    expect_same(h.layers[l].wo, w.layers[l].wo, "wo");
    expect_same(h.layers[l].w_gate, w.layers[l].w_gate, "w_gate");
    expect_same(h.layers[l].w_up, w.layers[l].w_up, "w_up");
    expect_same(h.layers[l].w_down, w.layers[l].w_down, "w_down");
    EXPECT_EQ(h.layers[l].attn_norm, w.layers[l].attn_norm);
    EXPECT_EQ(h.layers[l].ffn_norm, w.layers[l].ffn_norm);
  }
  EXPECT_EQ(h.final_norm, w.final_norm);
  expect_same(h.classifier(), w.classifier(), "classifier");
}
