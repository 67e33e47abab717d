// LWC training after a non-finite epoch: the epoch's start is restored and training goes on with the next
// epoch (the authors' LWC script does not stop). A block whose second calibration window is NaN makes every
// epoch non-finite after one good step: all 3 epochs are rolled back and each still takes its first step
// (3 steps; stopping at the first bad epoch would give 1), and the clips are the initial ones.
#include <gtest/gtest.h>

#include <limits>

#include "calib/lwc.h"
#include "model/synthetic.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

TEST(LwcRollback, NonFiniteEpochIsRolledBackAndTrainingGoesOn) {
  const model::ModelConfig c = test::tiny_config(32, 64, 1, 16, 16);
  const model::ModelWeights mw = model::random_weights(c, 4);
  const model::LayerWeights& w = mw.layers[0];
  const SiteTransforms none{};
  const BlockParams<float> fixed = frozen_block_params(c, w, none, Mat(), {});
  const std::array<const Mat*, kNumLinears> lin = {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
  std::vector<Mat> inputs, targets;
  for (int n = 0; n < 3; ++n) {
    Mat x(8, c.dim);
    for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = 0.1f * static_cast<float>((i * 7 + n * 3) % 11) - 0.5f;
    if (n == 1) x(2, 5) = std::numeric_limits<float>::quiet_NaN();
    inputs.push_back(x);
    targets.push_back(x);
  }
  BlockQuantSpec qs;
  qs.abits = 4;
  LwcOptions lo;
  lo.epochs = 3;
  lo.wbits = 4;
  const LwcResult r = lwc_train_block(c, qs, fixed, lin, inputs, targets, lo);
  EXPECT_EQ(r.nan_epochs, 3);
  EXPECT_EQ(r.steps, 3);
  for (const LwcRow& row : r.rows)
    for (size_t i = 0; i < row.u.size(); ++i) {
      ASSERT_EQ(row.u[i], kLwcInit);
      ASSERT_EQ(row.l[i], kLwcInit);
    }
}

}  // namespace
}  // namespace duq::calib
