// One quantization grid everywhere: the simulation (quant::fake_quant, what `--simulate` and calibration
// use) and the integer engine's per-token activation quantizer (kernels::quantize_acts) give the same x̂
// on every row, near-constant rows included (where a different zero-point clamp moved the whole grid:
// 0.6009 simulated against 0.9009 in the engine for 1.000 … 1.001 at 4 bits, clip 0.9).
#include <gtest/gtest.h>

#include "core/rng.h"
#include "kernels/act_quant.h"
#include "quant/uniform.h"

namespace duq {
namespace {

Mat test_rows() {
  const int64_t k = 128;
  Mat x(6, k);
  Rng rng(16);
  for (int64_t j = 0; j < k; ++j) {
    x(0, j) = 1.f + 0.001f * static_cast<float>(j) / (k - 1);           // near-constant (issue 16)
    x(1, j) = -3.f - 0.0002f * static_cast<float>(j % 7);               // near-constant negative
    x(2, j) = 5.f;                                                      // constant
    x(3, j) = 1000.f + 0.01f * static_cast<float>(rng.normal());        // large offset, small spread
    x(4, j) = static_cast<float>(rng.normal());                         // ordinary
    x(5, j) = j == 3 ? 50.f : 0.1f * static_cast<float>(rng.normal());  // one outlier
  }
  return x;
}

TEST(GridAgreement, SimulationEqualsIntegerQuantizerOnEveryRow) {
  const Mat x = test_rows();
  for (int bits : {2, 4, 8})
    for (float clip : {0.9f, 1.f}) {
      Mat sim = x;
      quant::QuantSpec spec;
      spec.bits = bits;
      spec.clip = clip;
      quant::fake_quant(sim, spec);
      kernels::QuantActs qa;
      kernels::quantize_acts(x, bits, clip, qa);
      const Mat eng = kernels::dequantize_acts(qa);
      for (int64_t i = 0; i < x.rows(); ++i)
        for (int64_t j = 0; j < x.cols(); ++j)
          ASSERT_EQ(sim(i, j), eng(i, j)) << "row " << i << " col " << j << " bits " << bits << " clip " << clip;
    }
}

// The numbers, by hand (quant/uniform.h): the maximum of the near-constant row comes back as 0.9009.
TEST(GridAgreement, NearConstantRowMaximumIsTheClippedMaximum) {
  const Mat x = test_rows();
  kernels::QuantActs qa;
  kernels::quantize_acts(x, 4, 0.9f, qa);
  EXPECT_NEAR(kernels::dequantize_acts(qa)(0, 127), 0.9009, 2e-4);
  Mat sim = x;
  quant::QuantSpec spec;
  spec.clip = 0.9f;
  quant::fake_quant(sim, spec);
  EXPECT_NEAR(sim(0, 127), 0.9009, 2e-4);
}

}  // namespace
}  // namespace duq
