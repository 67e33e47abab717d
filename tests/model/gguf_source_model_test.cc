// llama.cpp's own conversion of stories260K (convert-llama2c-to-ggml, F32) against the llama2.c checkpoint it was
// made from: the same config, bit-identical weights (llama.cpp keeps llama2.c's interleaved Q/K row order, which
// our GGUF reader relies on), and the GGUF vocabulary tokenizing the evaluation text exactly as tok512.bin does.
#include <gtest/gtest.h>

#include "model/bpe_tokenizer.h"
#include "model/gguf_tokenizer.h"
#include "model/weights.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

fs::path dir() { return duq::test::assets_dir() / "models/stories260K"; }

TEST(GgufStories260K, SameModelAsTheLlama2cCheckpoint) {
  if (!fs::exists(dir() / "stories260K-llamacpp-f32.gguf")) GTEST_SKIP();
  auto g = open_weights((dir() / "stories260K-llamacpp-f32.gguf").string());
  auto b = open_weights((dir() / "stories260K.bin").string());
  const ModelConfig &gc = g->config(), &bc = b->config();
  EXPECT_EQ(gc.dim, bc.dim);
  EXPECT_EQ(gc.hidden_dim, bc.hidden_dim);
  EXPECT_EQ(gc.n_layers, bc.n_layers);
  EXPECT_EQ(gc.n_heads, bc.n_heads);
  EXPECT_EQ(gc.n_kv_heads, bc.n_kv_heads);
  EXPECT_EQ(gc.vocab_size, bc.vocab_size);
  EXPECT_EQ(gc.rms_eps, bc.rms_eps);
  EXPECT_EQ(gc.rope_theta, bc.rope_theta);
  EXPECT_EQ(gc.rope_layout, bc.rope_layout);
  EXPECT_EQ(gc.max_seq_len, 128);  // the converter's default context_length; the checkpoint says 512
  EXPECT_EQ(bc.max_seq_len, 512);
  const ModelWeights gw = g->load_all(), bw = b->load_all();
  auto same = [](const Mat& x, const Mat& y, const std::string& what) {
    ASSERT_EQ(x.rows(), y.rows()) << what;
    ASSERT_EQ(x.cols(), y.cols()) << what;
    for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(x.data()[i], y.data()[i]) << what << " element " << i;
  };
  same(gw.embed, bw.embed, "embedding");
  for (int l = 0; l < gc.n_layers; ++l) {
    const auto &x = gw.layers[l], &y = bw.layers[l];
    same(x.wq, y.wq, "wq");  // no row permutation: both interleaved
    same(x.wk, y.wk, "wk");
    same(x.wv, y.wv, "wv");
    same(x.wo, y.wo, "wo");
    same(x.w_gate, y.w_gate, "w_gate");
    same(x.w_up, y.w_up, "w_up");
    same(x.w_down, y.w_down, "w_down");
    EXPECT_EQ(x.attn_norm, y.attn_norm);
    EXPECT_EQ(x.ffn_norm, y.ffn_norm);
  }
  EXPECT_EQ(gw.final_norm, bw.final_norm);
  // The converter writes output.weight even for a shared classifier: a copy of the embedding.
  same(gw.classifier(), bw.classifier(), "classifier");
}

TEST(GgufStories260K, VocabularyTokenizesLikeTok512) {
  if (!fs::exists(dir() / "stories260K-llamacpp-f32.gguf")) GTEST_SKIP();
  auto g = load_gguf_tokenizer((dir() / "stories260K-llamacpp-f32.gguf").string());
  auto b = BpeTokenizer::load((dir() / "tok512.bin").string());
  const std::string text = duq::test::read_text(duq::test::assets_dir() / "text/tinystories/eval.txt");
  const auto gt = g->encode(text, true, false), bt = b->encode(text, true, false);
  ASSERT_EQ(gt.size(), bt.size());
  EXPECT_EQ(gt, bt);
  EXPECT_EQ(g->decode_all(gt), b->decode_all(bt));
  EXPECT_EQ(g->bos_id(), 1);
  EXPECT_EQ(g->eos_id(), 2);
}

}  // namespace
}  // namespace duq::model
