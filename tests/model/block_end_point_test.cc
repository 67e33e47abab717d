// block_forward with an end point (BlockPoint) runs the block exactly as far as the full forward does: the
// data a read-only observer sees at the end point is bit-identical to what the full forward's hooks see
// there, every point's hooks before it have run (and none after), and x is the residual stream at that point.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "model/forward.h"
#include "model/rope_freq.h"
#include "model/synthetic.h"

namespace duq::model {
namespace {

ModelConfig small_config() {
  ModelConfig c;
  c.dim = 64, c.hidden_dim = 160, c.n_layers = 1, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 32;
  c.max_seq_len = 16, c.tied_embeddings = false;
  return c;
}

// Copies of what each point saw, and the order the points were reached in.
struct Record : ForwardObserver {
  std::array<Mat, kNumSites> site;
  Mat q, k;
  std::vector<BlockPoint> reached;
  void linear_input(int, Site s, ConstMatView x) override {
    site[static_cast<size_t>(s)] = Mat(x);
    reached.push_back(point_of(s));
  }
  void qk(int, ConstMatView q_, ConstMatView k_) override {
    q = Mat(q_);
    k = Mat(k_);
    reached.push_back(BlockPoint::Qk);
  }
};

bool same(const Mat& a, const Mat& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())) == 0;
}

TEST(BlockEndPoint, StopsAfterTheEndPointWithWhatTheFullForwardSaw) {
  const ModelConfig c = small_config();
  const ModelWeights w = random_weights(c, 3);
  const LayerWeights& lw = w.layers[0];
  const kernels::RopeTable rope = rope_table(c, c.max_seq_len);
  const FloatLinears lin(lw);
  Mat x0(12, c.dim);
  Rng r(5);
  for (float& v : x0.flat()) v = static_cast<float>(r.normal());

  Record full;
  ObserveOnly full_hooks(full);
  Mat x_full(x0), kc(12, c.kv_dim()), vc(12, c.kv_dim());
  block_forward(c, 0, lw.attn_norm, lw.ffn_norm, lin, x_full, 0, kc, vc, rope, &full_hooks);
  ASSERT_EQ(full.reached.size(), 5u);

  for (BlockPoint end :
       {BlockPoint::AttnIn, BlockPoint::Qk, BlockPoint::AttnOut, BlockPoint::FfnIn, BlockPoint::DownIn}) {
    Record part;
    ObserveOnly hooks(part);
    Mat x(x0);
    block_forward(c, 0, lw.attn_norm, lw.ffn_norm, lin, x, 0, kc, vc, rope, &hooks, end);
    ASSERT_FALSE(part.reached.empty());
    EXPECT_EQ(part.reached.back(), end);
    EXPECT_EQ(part.reached.size(), static_cast<size_t>(end) + 1);
    if (end == BlockPoint::Qk) {
      EXPECT_TRUE(same(part.q, full.q));
      EXPECT_TRUE(same(part.k, full.k));
    } else {
      for (int s = 0; s < kNumSites; ++s) {
        if (point_of(static_cast<Site>(s)) == end) {
          EXPECT_TRUE(same(part.site[static_cast<size_t>(s)], full.site[static_cast<size_t>(s)]));
        }
      }
    }
    // Before the FFN the residual stream is still the block input; after the attention it has moved on.
    const bool attention_only = end == BlockPoint::AttnIn || end == BlockPoint::Qk || end == BlockPoint::AttnOut;
    EXPECT_EQ(same(x, x0), attention_only);
  }
}

}  // namespace
}  // namespace duq::model
