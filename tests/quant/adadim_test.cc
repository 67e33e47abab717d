// AdaDim: per-IC groups isolate planted input-channel outliers; the per-layer choice takes the lower error.
#include "quant/adadim.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "core/rng.h"
#include "test_support.h"

namespace duq::quant {
namespace {

// A few weight columns ×50. Two input distributions:
//  - "smoothed": the matching input channels ÷50 (what smoothing does to activation outliers: X·Wᵀ is the
//    product of an outlier-free layer). Per-OC grids are set by the 4 large entries of each row and round
//    the other 252 to zero; per-IC grids isolate them. Per-IC must be far better.
//  - "uniform": all input channels alike (H ∝ I). The large columns' own rounding error then dominates and
//    per-IC is not always better (printed; the per-layer choice just takes the smaller).
TEST(AdaDim, PerInputChannelWinsOnPlantedInputChannelOutliers) {
  const int64_t O = 128, D = 256;
  const std::vector<int64_t> outliers = {3, 77, 150, 201};
  Mat w = test::random_normal_mat(O, D, 1), x = test::random_normal_mat(1024, D, 2), xs(x);
  for (int64_t j : outliers) {
    for (int64_t r = 0; r < O; ++r) w(r, j) *= 50.f;
    for (int64_t t = 0; t < x.rows(); ++t) xs(t, j) /= 50.f;
  }
  for (bool smoothed : {true, false}) {
    Hessian h(D);
    h.add(smoothed ? xs : x);
    for (int bits : {3, 4})
      for (int64_t g : {0, 32})
        for (bool gptq : {false, true}) {
          QuantSpec s;
          s.bits = bits;
          s.group_size = g;
          AdaDimResult r = adadim_quantize(w, h, s, gptq);
          std::printf("%s inputs, W%d g %2ld %s: output error per-OC %.4g, per-IC %.4g (ratio %.3f)\n",
                      smoothed ? "smoothed" : "uniform ", bits, static_cast<long>(g), gptq ? "GPTQ" : "RTN ",
                      r.error_oc, r.error_ic, r.error_ic / r.error_oc);
          if (smoothed) {
            EXPECT_LT(r.error_ic, 0.1 * r.error_oc);
            EXPECT_EQ(r.q.spec.axis, Axis::kColumn);
          }
          EXPECT_EQ(r.q.spec.axis, r.error_ic < r.error_oc ? Axis::kColumn : Axis::kRow);
        }
  }
}

TEST(AdaDim, PerOutputChannelWinsOnOutputChannelOutliers) {
  const int64_t O = 128, D = 256;
  Mat w = test::random_normal_mat(O, D, 3), x = test::random_normal_mat(512, D, 4);
  for (int64_t r : {5, 60, 99})
    for (int64_t j = 0; j < D; ++j) w(r, j) *= 50.f;  // a few output channels ×50
  Hessian h(D);
  h.add(x);
  QuantSpec s;
  s.bits = 4;
  AdaDimResult r = adadim_quantize(w, h, s, false);
  EXPECT_LT(r.error_oc, r.error_ic);
  EXPECT_EQ(r.q.spec.axis, Axis::kRow);
}

}  // namespace
}  // namespace duq::quant
