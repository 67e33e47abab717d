// duquant synth streams (model::RandomWeights through write_hf_model's per-tensor writer): each tensor read
// back equals an independent draw from its documented stream (synthetic.h: tensor index 0 the embedding,
// 1 + 7l … 7 + 7l block l's linears, 1 + 7·n_layers the classifier; scaled N(0, 1/in)), and the file is the
// bytes the whole-model writer gives for random_weights.
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "model/hf_source.h"
#include "model/synthetic.h"
#include "test_support.h"
#include "tiny_config.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

// The stream formula as synthetic.cc documents it, written out again here.
std::vector<float> expected_draws(uint64_t seed, uint64_t index, size_t n, double stddev) {
  Rng rng(seed * 0x9e3779b97f4a7c15ULL + index * 0xd1b54a32d192ed03ULL + 1);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(stddev * rng.normal());
  return v;
}

void expect_equal(const Mat& m, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(m.size()), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(m.data()[i], want[i]) << what << " at " << i;
}

TEST(SyntheticStream, TensorsFollowTheirStreamsAndMatchTheWholeModelWriter) {
  ModelConfig c = test::tiny_config(32, 48, 3, 40, 32);
  c.n_kv_heads = 2;
  c.tied_embeddings = false;
  const uint64_t seed = 9;
  const fs::path dir = test::temp_dir("synth_stream");
  write_hf_model((dir / "streamed").string(), RandomWeights(c, seed), formats::DType::F32);
  write_hf_model((dir / "whole").string(), c, random_weights(c, seed), formats::DType::F32);
  EXPECT_TRUE(test::read_text(dir / "streamed/model.safetensors") == test::read_text(dir / "whole/model.safetensors"));

  auto src = open_weights((dir / "streamed").string());
  const double D = c.dim, H = c.hidden_dim;
  expect_equal(src->embedding(), expected_draws(seed, 0, size_t(c.vocab_size * c.dim), 1.0), "embedding");
  const LayerWeights l2 = src->layer(2);
  expect_equal(l2.wk, expected_draws(seed, 1 + 7 * 2 + 1, size_t(c.kv_dim() * c.dim), 1 / std::sqrt(D)), "layer 2 wk");
  const double branch = 1 / std::sqrt(2.0 * c.n_layers);
  expect_equal(l2.w_down, expected_draws(seed, 1 + 7 * 2 + 6, size_t(c.dim * c.hidden_dim), branch / std::sqrt(H)),
               "layer 2 w_down");
  expect_equal(src->lm_head(), expected_draws(seed, 1 + 7 * 3, size_t(c.vocab_size * c.dim), 1 / std::sqrt(D)),
               "lm_head");
}

}  // namespace
}  // namespace duq::model
