// Model::set_half_classifier: a classifier kept as IEEE halves gives logits bit-identical to the f32 classifier
// they widen to, on every logits path (forward_batch's row-invariant product, forward's one-row and many-row
// products), while the f32 table is released.
#include <gtest/gtest.h>

#include <cstring>

#include "core/half.h"
#include "core/rng.h"
#include "kernels/gemm_f32.h"
#include "model/forward.h"
#include "model/synthetic.h"

namespace duq::model {
namespace {

ModelConfig config() {
  ModelConfig c;
  c.dim = 48;
  c.hidden_dim = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 2100;  // more than one 2048-row panel of the many-row path
  c.max_seq_len = 64;
  c.tied_embeddings = false;
  c.rope_layout = RopeLayout::RotateHalf;
  return c;
}

bool same_bits(const Mat& a, const Mat& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

TEST(HalfClassifier, LogitsAreThoseOfTheWidenedF32Classifier) {
  const ModelConfig c = config();
  ModelWeights w = random_weights(c, 5);
  AlignedVector<uint16_t> half(static_cast<size_t>(w.lm_head.size()));
  for (size_t i = 0; i < half.size(); ++i) {
    half[i] = f32_to_f16(w.lm_head.data()[i]);
    w.lm_head.data()[i] = f16_to_f32(half[i]);  // the f32 model holds exactly the widened halves
  }
  const Model wide(c, w);
  Model narrow(c, w);
  narrow.set_half_classifier(std::move(half));
  EXPECT_EQ(narrow.weights().lm_head.size(), 0);

  const std::vector<int> a = {5, 17, 301, 2099, 8}, b = {44, 1000};
  // forward_batch (serve, eval): the row-invariant product on both
  KVCache ka(c, 16), kb(c, 16), na(c, 16), nb(c, 16);
  const SeqChunk wide_chunks[] = {{a, 0, &ka, true}, {b, 0, &kb, false}};
  const SeqChunk narrow_chunks[] = {{a, 0, &na, true}, {b, 0, &nb, false}};
  EXPECT_TRUE(same_bits(wide.forward_batch(wide_chunks), narrow.forward_batch(narrow_chunks)));
  // Model::logits, many rows (forward, perplexity): BLAS on widened panels vs BLAS on the whole f32 table
  Rng rng(3);
  Mat x(7, c.dim);
  for (float& v : x.flat()) v = static_cast<float>(rng.normal());
  EXPECT_TRUE(same_bits(wide.logits(x), narrow.logits(x)));
  // one row (decode through forward): the row-invariant product of the normed row with the widened table
  Mat xn(1, c.dim), want(1, c.vocab_size);
  kernels::rmsnorm(x.view().rows_slice(0, 1), w.final_norm, c.rms_eps, xn);
  kernels::matmul_xwt_rows(xn, w.lm_head, want);
  EXPECT_TRUE(same_bits(narrow.logits(x.view().rows_slice(0, 1)), want));
}

// Misuse is a programming error (an internal check, which aborts): a tied classifier is the embedding table.
TEST(HalfClassifierDeathTest, RefusesATiedClassifierAndAWrongShape) {
  ModelConfig c = config();
  Model m(c, random_weights(c, 6));
  EXPECT_DEATH(m.set_half_classifier(AlignedVector<uint16_t>(10)), "set_half_classifier: shape");
  c.tied_embeddings = true;
  Model tied(c, random_weights(c, 6));
  EXPECT_DEATH(tied.set_half_classifier(AlignedVector<uint16_t>(static_cast<size_t>(c.vocab_size) * c.dim)),
               "tied classifier");
}

}  // namespace
}  // namespace duq::model
