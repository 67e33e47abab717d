// Uniform quantizer: hand-worked grids (spec §3), rounding, clipping, granularities, error bounds.
#include "quant/uniform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "test_support.h"

namespace duq::quant {
namespace {

Mat from_rows(std::initializer_list<std::vector<float>> rows) {
  Mat m(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows.begin()->size()));
  int64_t i = 0;
  for (const auto& r : rows) {
    for (size_t j = 0; j < r.size(); ++j) m(i, static_cast<int64_t>(j)) = r[j];
    ++i;
  }
  return m;
}

std::vector<float> row_of(const Mat& m, int64_t i) { return {m.row(i), m.row(i) + m.cols()}; }

QuantSpec asym(int bits, float clip = 1.f) { return QuantSpec{bits, false, clip, 0, Axis::kRow}; }

// Row [−1, 0, 0.5, 2], 2 bits: Δ = 3/3 = 1, z = round(1) = 1;
// codes round(x/Δ)+z = [−1+1, 0+1, round(0.5)=0 (half to even)+1, 2+1] = [0, 1, 1, 3]; x̂ = (q−1)·1.
TEST(Uniform, HandWorkedTwoBitRow) {
  Mat x = from_rows({{-1.f, 0.f, 0.5f, 2.f}});
  const QuantizedMat q = quantize(x, asym(2));
  EXPECT_EQ(q.params[0].scale, 1.f);
  EXPECT_EQ(q.params[0].zero, 1);
  EXPECT_EQ(std::vector<uint8_t>(q.codes.begin(), q.codes.end()), (std::vector<uint8_t>{0, 1, 1, 3}));
  fake_quant(x, asym(2));
  EXPECT_EQ(row_of(x, 0), (std::vector<float>{-1.f, 0.f, 0.f, 2.f}));
}

// Halves go to the even neighbour: [0, 1.5, 2.5, 3] (Δ=1, z=0) → [0, 2, 2, 3];
// [−3, −2.5, −0.5, 0] (Δ=1, z=3) → round gives [−3, −2, −0, 0] → codes [0, 1, 3, 3].
TEST(Uniform, RoundHalfToEven) {
  Mat x = from_rows({{0.f, 1.5f, 2.5f, 3.f}, {-3.f, -2.5f, -0.5f, 0.f}});
  const QuantizedMat q = quantize(x, asym(2));
  EXPECT_EQ(std::vector<uint8_t>(q.codes.begin(), q.codes.end()), (std::vector<uint8_t>{0, 2, 2, 3, 0, 1, 3, 3}));
  EXPECT_EQ(q.params[1].zero, 3);
  fake_quant(x, asym(2));
  EXPECT_EQ(row_of(x, 0), (std::vector<float>{0.f, 2.f, 2.f, 3.f}));
  EXPECT_EQ(row_of(x, 1), (std::vector<float>{-3.f, -2.f, 0.f, 0.f}));
}

// Clip 0.5 on [−6, 0, 1, 6], 2 bits: range [−3, 3], Δ = 2, z = round(1.5) = 2; −6 → −1 clamps to 0,
// 1 → round(0.5)=0 → 2, 6 → 3+2 = 5 clamps to 3; x̂ = [(0−2)·2, 0, 0, (3−2)·2] = [−4, 0, 0, 2].
TEST(Uniform, ClipRatioShrinksRangeAndSaturates) {
  Mat x = from_rows({{-6.f, 0.f, 1.f, 6.f}});
  const QuantizedMat q = quantize(x, asym(2, 0.5f));
  EXPECT_EQ(q.params[0].scale, 2.f);
  EXPECT_EQ(q.params[0].zero, 2);
  fake_quant(x, asym(2, 0.5f));
  EXPECT_EQ(row_of(x, 0), (std::vector<float>{-4.f, 0.f, 0.f, 2.f}));
}

// A zero row gives the minimum scale 1e-5 and z = 0, so it stays exactly zero; a constant positive row
// gets Δ = 1e-5 and z = round(−5/1e-5) = −500000 (inside the ±2^22 clamp the integer kernels use; the
// reference's ±1e4 would leave only (3 + 1e4)·1e-5 ≈ 0.1), so 5 comes back as (0 + 500000)·1e-5 = 5.
TEST(Uniform, DegenerateRowsFollowTheScaleClamps) {
  Mat x = from_rows({{0.f, 0.f, 0.f, 0.f}, {5.f, 5.f, 5.f, 5.f}});
  const QuantizedMat q = quantize(x, asym(2));
  EXPECT_EQ(q.params[0].scale, 1e-5f);
  EXPECT_EQ(q.params[0].zero, 0);
  EXPECT_EQ(q.params[1].zero, -500000);
  fake_quant(x, asym(2));
  EXPECT_EQ(row_of(x, 0), (std::vector<float>{0.f, 0.f, 0.f, 0.f}));
  EXPECT_NEAR(x(1, 0), 5.0, 1e-5);
}

// The issue-16 row: 1.000 … 1.001 at 4 bits, clip 0.9. By hand: xmin = 0.9, xmax = 0.9009, Δ = 0.0009/15 =
// 6·10^-5, z = round(−0.9/Δ) = −15000; every value is above the clipped range (1.000/Δ ≈ 16667 → code 1667)
// and saturates at code 15, so the whole row comes back as the clipped maximum (15 + 15000)·Δ = 0.9009
// (a ±1e4 clamp on z gives (15 + 10^4)·Δ = 0.6009).
TEST(Uniform, NearConstantRowKeepsItsClippedRange) {
  Mat x(1, 128);
  for (int64_t j = 0; j < 128; ++j) x(0, j) = 1.f + 0.001f * static_cast<float>(j) / 127.f;
  const QuantizedMat q = quantize(x, asym(4, 0.9f));
  EXPECT_NEAR(q.params[0].zero, -15000, 1);
  fake_quant(x, asym(4, 0.9f));
  EXPECT_NEAR(x(0, 127), 0.9009, 2e-4);
  EXPECT_NEAR(x(0, 0), 0.9009, 2e-4);
}

// Without clipping every value lies within half a step of the grid: |x − x̂| ≤ Δ/2 (plus float slack).
TEST(Uniform, ErrorAtMostHalfAStep) {
  for (int bits = 2; bits <= 8; ++bits) {
    Mat x = test::random_normal_mat(16, 67, 100 + bits, 3.0);
    Mat y = x;
    const QuantizedMat q = quantize(x, asym(bits));
    fake_quant(y, asym(bits));
    for (int64_t i = 0; i < x.rows(); ++i) {
      const float d = q.params[static_cast<size_t>(i)].scale;
      for (int64_t j = 0; j < x.cols(); ++j)
        ASSERT_LE(std::fabs(x(i, j) - y(i, j)), 0.5f * d * (1 + 1e-5f) + 1e-6f * std::fabs(x(i, j)))
            << "bits " << bits << " at " << i << "," << j;
    }
  }
}

// Fewer levels than distinct values, but the grid holds 0 exactly when the row straddles 0.
TEST(Uniform, ZeroIsExactWhenTheRowStraddlesZero) {
  Mat x = test::random_normal_mat(8, 33, 7);
  for (int64_t i = 0; i < x.rows(); ++i) x(i, 5) = 0.f, x(i, 6) = -1.f, x(i, 7) = 1.f;
  fake_quant(x, asym(3, 0.9f));
  for (int64_t i = 0; i < x.rows(); ++i) EXPECT_EQ(x(i, 5), 0.f);
}

TEST(Uniform, DequantizeOfQuantizeEqualsFakeQuant) {
  for (Axis axis : {Axis::kRow, Axis::kColumn})
    for (bool sym : {false, true}) {
      const QuantSpec spec{4, sym, 0.8f, 5, axis};
      Mat x = test::random_normal_mat(13, 22, 3);
      Mat fq = x, dq(13, 22);
      fake_quant(fq, spec);
      dequantize(quantize(x, spec), dq);
      for (int64_t k = 0; k < x.size(); ++k) ASSERT_EQ(fq.flat()[k], dq.flat()[k]);
    }
}

// Groups of 4: [0,1,2,3] and [0,10,20,30] each fit a 2-bit grid exactly (Δ = 1 and 10, z = 0). As one
// row group Δ = 10 and 1, 2, 3 round to 0.
TEST(Uniform, GroupsAlongARow) {
  Mat g = from_rows({{0, 1, 2, 3, 0, 10, 20, 30}});
  Mat w = g;
  fake_quant(g, QuantSpec{2, false, 1.f, 4, Axis::kRow});
  fake_quant(w, asym(2));
  EXPECT_EQ(row_of(g, 0), (std::vector<float>{0, 1, 2, 3, 0, 10, 20, 30}));
  EXPECT_EQ(row_of(w, 0), (std::vector<float>{0, 0, 0, 0, 0, 10, 20, 30}));
}

// Each group (including a partial last one) equals quantizing that slice on its own as whole rows.
TEST(Uniform, GroupsEqualSlicesQuantizedAlone) {
  Mat x = test::random_normal_mat(5, 23, 11);
  Mat y = x;
  fake_quant(y, QuantSpec{3, false, 0.9f, 8, Axis::kRow});
  for (int64_t c0 : {0, 8, 16}) {
    const int64_t w = std::min<int64_t>(8, 23 - c0);
    Mat s(x.view().cols_slice(c0, w));
    fake_quant(s, asym(3, 0.9f));
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < w; ++j) ASSERT_EQ(s(i, j), y(i, c0 + j));
  }
}

// Per input channel (kColumn) equals per-row quantization of the transpose, with and without groups.
TEST(Uniform, PerColumnEqualsPerRowOfTranspose) {
  for (int64_t g : {0, 4, 7}) {
    Mat x = test::random_normal_mat(14, 9, 21);
    Mat xt(9, 14);
    for (int64_t i = 0; i < 14; ++i)
      for (int64_t j = 0; j < 9; ++j) xt(j, i) = x(i, j);
    fake_quant(x, QuantSpec{4, false, 0.85f, g, Axis::kColumn});
    fake_quant(xt, QuantSpec{4, false, 0.85f, g, Axis::kRow});
    for (int64_t i = 0; i < 14; ++i)
      for (int64_t j = 0; j < 9; ++j) ASSERT_EQ(x(i, j), xt(j, i)) << "group " << g;
  }
}

// Column hand example: column 0 = [−1, 0, 0.5, 2] quantizes as the 2-bit row example; column 1 is
// [0, 1, 2, 3] which a 2-bit grid holds exactly.
TEST(Uniform, PerColumnHandWorked) {
  Mat x = from_rows({{-1.f, 0.f}, {0.f, 1.f}, {0.5f, 2.f}, {2.f, 3.f}});
  const QuantSpec spec{2, false, 1.f, 0, Axis::kColumn};
  const QuantizedMat q = quantize(x, spec);
  EXPECT_EQ(q.params.size(), 2u);
  EXPECT_EQ(q.params[0].zero, 1);
  EXPECT_EQ(q.params[1].zero, 0);
  fake_quant(x, spec);
  EXPECT_EQ(x(2, 0), 0.f);
  EXPECT_EQ(x(3, 0), 2.f);
  EXPECT_EQ(x(1, 1), 1.f);
  EXPECT_EQ(x(3, 1), 3.f);
}

// Symmetric 4 bits: levels −7..7. [−7, 3.5, 2.5, 1]: Δ = 7/7 = 1 → [−7, 4 (half even), 2, 1];
// stored codes are offset by z = 8. Clip 0.5 on [−14, 14, 3, −3]: Δ = 7/7 = 1, ±14 saturate at ±7.
TEST(Uniform, SymmetricHandWorked) {
  Mat x = from_rows({{-7.f, 3.5f, 2.5f, 1.f}, {-14.f, 14.f, 3.f, -3.f}});
  const QuantSpec sym{4, true, 1.f, 0, Axis::kRow};
  const QuantizedMat q = quantize(x, sym);
  EXPECT_EQ(q.params[0].zero, 8);
  EXPECT_EQ(q.params[0].scale, 1.f);
  EXPECT_EQ(std::vector<uint8_t>(q.codes.begin(), q.codes.begin() + 4), (std::vector<uint8_t>{1, 12, 10, 9}));
  Mat y = x;
  fake_quant(y, sym);
  EXPECT_EQ(row_of(y, 0), (std::vector<float>{-7.f, 4.f, 2.f, 1.f}));
  Mat c = from_rows({{-14.f, 14.f, 3.f, -3.f}});
  fake_quant(c, QuantSpec{4, true, 0.5f, 0, Axis::kRow});
  EXPECT_EQ(row_of(c, 0), (std::vector<float>{-7.f, 7.f, 3.f, -3.f}));
}

// The symmetric grid is symmetric: quantizing −x gives −x̂, and codes never use −2^(b−1).
TEST(Uniform, SymmetricGridIsOddAndRestricted) {
  Mat x = test::random_normal_mat(6, 40, 5);
  Mat n = x;
  for (auto& v : n.flat()) v = -v;
  const QuantSpec sym{3, true, 0.9f, 0, Axis::kRow};
  const QuantizedMat q = quantize(x, sym);
  for (uint8_t c : q.codes) EXPECT_GE(c, 1);
  fake_quant(x, sym);
  fake_quant(n, sym);
  for (int64_t k = 0; k < x.size(); ++k) ASSERT_EQ(x.flat()[k], -n.flat()[k]);
}

TEST(Uniform, RejectsBadSpecsWithActionableMessages) {
  Mat x(4, 8);
  try {
    fake_quant(x, asym(9));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "bits must be between 2 and 8 (got 9)");
  }
  EXPECT_THROW(fake_quant(x, asym(1)), Error);
  EXPECT_THROW(fake_quant(x, asym(4, 0.f)), Error);
  EXPECT_THROW(fake_quant(x, asym(4, 1.5f)), Error);
  EXPECT_THROW(fake_quant(x, QuantSpec{4, false, 1.f, 9, Axis::kRow}), Error);
  EXPECT_THROW(fake_quant(x, QuantSpec{4, false, 1.f, 5, Axis::kColumn}), Error);
  EXPECT_THROW(quantize(x, QuantSpec{4, false, 1.f, -1, Axis::kRow}), Error);
  EXPECT_NO_THROW(fake_quant(x, QuantSpec{4, false, 1.f, 8, Axis::kRow}));
}

}  // namespace
}  // namespace duq::quant

namespace duq::quant {
namespace {

// GPTQ's / QuaRot's symmetric grid also uses −2^(b−1): 4 bits, clip 0.5 on a row with max |x| = 8: Δ = 4/7,
// −8/Δ = −14 → −8 with the full range (stored 0), −7 restricted (stored 1).
TEST(Uniform, SymmetricFullRangeReachesMinusHalfRange) {
  Mat x(1, 3);
  x(0, 0) = -8.f, x(0, 1) = 1.f, x(0, 2) = 8.f;
  QuantSpec s{4, true, 0.5f, 0, Axis::kRow};
  EXPECT_EQ(quantize(x, s).code(0, 0), 1);
  s.full_range = true;
  const QuantizedMat q = quantize(x, s);
  EXPECT_EQ(q.code(0, 0), 0);
  EXPECT_EQ(q.code(0, 2), 15);
  EXPECT_NEAR(dequantize_value(q.code(0, 0), q.params[0]), -8 * 4.0 / 7, 1e-5);
}

// The MSE clip search against a brute force written here in double: p = 1 − k/100 (k < 80), symmetric full
// range, Δ = p·max|x|/7, error Σ|x̂ − x|^2.4, first minimum. A row already on the p = 1 grid keeps clip 1.
TEST(Uniform, MseRowClipsMatchBruteForce) {
  Mat x(3, 64);
  Rng rng(3);
  for (int64_t j = 0; j < 64; ++j) {
    x(0, j) = static_cast<float>(rng.normal());
    x(1, j) = j == 5 ? 30.f : static_cast<float>(rng.normal());          // one outlier (norm 2.4 keeps it: clip ~1)
    x(2, j) = 0.25f * static_cast<float>(static_cast<int>(j % 15) - 7);  // exactly on the p = 1 grid
  }
  QuantSpec s{4, true, 1.f, 0, Axis::kRow};
  s.full_range = true;
  const std::vector<float> c = mse_row_clips(x, s);
  for (int64_t i = 0; i < 3; ++i) {
    double amax = 0;
    for (int64_t j = 0; j < 64; ++j) amax = std::max(amax, std::fabs(double(x(i, j))));
    double best = 1e300;
    int best_k = 0;
    for (int k = 0; k < 80; ++k) {
      const double p = 1.0 - k / 100.0, d = p * amax / 7;
      double e = 0;
      for (int64_t j = 0; j < 64; ++j) {
        const double q = std::clamp(std::nearbyint(x(i, j) / d), -8.0, 7.0);
        e += std::pow(std::fabs(q * d - x(i, j)), 2.4);
      }
      if (e < best * (1 - 1e-9)) best = e, best_k = k;
    }
    EXPECT_NEAR(c[static_cast<size_t>(i)], 1.0 - best_k / 100.0, 0.0101) << "row " << i;
  }
  EXPECT_EQ(c[2], 1.f);
}

}  // namespace
}  // namespace duq::quant
