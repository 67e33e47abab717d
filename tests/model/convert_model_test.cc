// llama2.c → Hugging Face conversion of stories260K: same logits (≤ 1e-5 relative) and the same greedy
// text through the rotate-half RoPE path as through the llama2.c path.
#include <gtest/gtest.h>

#include <cmath>

#include "model/forward.h"
#include "model/hf_source.h"
#include "model/rope_layout.h"
#include "model/sampler.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

double max_rel_diff(const Mat& a, const Mat& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a.data()[i]) - b.data()[i]));
    den = std::max(den, std::fabs(double(b.data()[i])));
  }
  return num / den;
}

std::vector<int> greedy(const Model& m, int n) {
  KVCache c(m.config(), m.config().max_seq_len);
  std::vector<int> t = {1};
  for (int pos = 0; pos < n; ++pos)
    t.push_back(argmax(m.forward(std::span<const int>(&t.back(), 1), pos, c, nullptr, true).flat()));
  return t;
}

TEST(ConvertStories260K, HuggingFaceDirectoryGivesSameLogitsAndText) {
  fs::path ckpt = test::assets_dir() / "models/stories260K/stories260K.bin";
  if (!fs::exists(ckpt)) GTEST_SKIP();
  auto src = open_weights(ckpt);
  ModelConfig cfg = src->config();
  ModelWeights w = src->load_all();
  Model ref(cfg, src->load_all());
  convert_to_rotate_half(cfg, w);
  auto dir = test::temp_dir("convert_stories");
  write_hf_model((dir / "hf").string(), cfg, w, formats::DType::F32);
  Model hf = Model::load((dir / "hf").string());
  EXPECT_EQ(hf.config().rope_layout, RopeLayout::RotateHalf);

  std::vector<int> toks = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 400, 428, 395, 392};
  KVCache c1(cfg, 64), c2(cfg, 64);
  Mat a = ref.forward(toks, 0, c1), b = hf.forward(toks, 0, c2);
  EXPECT_LE(max_rel_diff(b, a), 1e-5);
  EXPECT_EQ(greedy(hf, 200), greedy(ref, 200));
}

TEST(ConvertStories260K, WithoutThePermutationTheLogitsDiffer) {
  // Guards the test above: the rotate-half engine on unpermuted llama2.c weights is a different model.
  fs::path ckpt = test::assets_dir() / "models/stories260K/stories260K.bin";
  if (!fs::exists(ckpt)) GTEST_SKIP();
  auto src = open_weights(ckpt);
  ModelConfig cfg = src->config();
  Model ref(cfg, src->load_all());
  cfg.rope_layout = RopeLayout::RotateHalf;
  Model wrong(cfg, src->load_all());
  std::vector<int> toks = {1, 403, 407, 261, 378, 432, 383, 286};
  KVCache c1(cfg, 64), c2(cfg, 64);
  EXPECT_GT(max_rel_diff(wrong.forward(toks, 0, c2), ref.forward(toks, 0, c1)), 1e-2);
}

TEST(RopeLayout, PermutationIsHandWorked) {
  // One head of size 4, rows r0..r3 (interleaved pairs (0,1), (2,3)) → rotate-half order r0, r2, r1, r3.
  Mat w(4, 1);
  for (int i = 0; i < 4; ++i) w(i, 0) = static_cast<float>(i);
  interleaved_to_rotate_half(w, 1);
  EXPECT_EQ(w(0, 0), 0.f);
  EXPECT_EQ(w(1, 0), 2.f);
  EXPECT_EQ(w(2, 0), 1.f);
  EXPECT_EQ(w(3, 0), 3.f);
}

}  // namespace
}  // namespace duq::model
