// Greedy rotation search: exchange index rules, no-improvement case, outlier flattening, and the fast
// search bit-identical to the straightforward one.
#include "transform/greedy_rotation.h"

#include <gtest/gtest.h>

#include "test_mats.h"

namespace duq::transform {
namespace {

using namespace duq::transform::test;

GreedyOptions opts(int steps, SearchVariant v, bool fast, uint64_t seed = 1) {
  GreedyOptions o;
  o.steps = steps;
  o.variant = v;
  o.fast = fast;
  o.seed = seed;
  return o;
}

// x = one token, 8 channels, b = 4: Y = [[x0..x3], [x4..x7]]. A 9 at channel 6 sits in row 1, column 2.
// Reference variant: k = row 1; paper variant: k = column 2. With −9 at channel 0 as well the magnitudes
// tie and the reference takes the min (the max wins only when strictly larger): row 0.
TEST(Greedy, ExchangeIndexRowVersusColumn) {
  Mat x(1, 8);
  x(0, 6) = 9.f;
  x(0, 0) = -5.f;
  for (bool fast : {false, true}) {
    EXPECT_EQ(greedy_rotation(x, 4, opts(1, SearchVariant::kReference, fast)).exchanges[0], 1);
    EXPECT_EQ(greedy_rotation(x, 4, opts(1, SearchVariant::kPaper, fast)).exchanges[0], 2);
    const GreedyResult r = greedy_rotation(x, 4, opts(1, SearchVariant::kReference, fast));
    EXPECT_EQ(r.scores[0], 14.f);  // signed range 9 − (−5)
    EXPECT_EQ(greedy_rotation(x, 4, opts(1, SearchVariant::kPaper, fast)).scores[0], 9.f);
  }
  x(0, 0) = -9.f;
  EXPECT_EQ(greedy_rotation(x, 4, opts(1, SearchVariant::kReference, false)).exchanges[0], 0);
}

// Rows ±y with all |y_i| = 1: any orthogonal R keeps max(YR) ≥ max|yR| ≥ 1 and min(YR) ≤ −1, so no step
// can lower the range below 2 (nor max|Y| below 1): the first argmin is step 0 and R̂ = I.
TEST(Greedy, IdentityWhenNothingImproves) {
  const int64_t b = 16;
  Rng rng(3);
  Mat x(8, 2 * b);
  for (int64_t i = 0; i < 8; i += 2)
    for (int64_t j = 0; j < 2 * b; ++j) {
      x(i, j) = rng.below(2) ? 1.f : -1.f;
      x(i + 1, j) = -x(i, j);
    }
  for (auto v : {SearchVariant::kReference, SearchVariant::kPaper})
    for (bool fast : {false, true}) {
      const GreedyResult r = greedy_rotation(x, b, opts(20, v, fast));
      EXPECT_EQ(r.steps_taken, 0);
      for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) ASSERT_EQ(r.rotation(i, j), i == j ? 1.f : 0.f);
    }
}

// One channel 100× larger in every token: the search spreads it and max|X·R̂| drops several-fold.
// The recorded score of the chosen step must match the range of X·R̂ recomputed from R̂ (checks that
// R̂ multiplies the Swap factors in the order they were applied).
TEST(Greedy, FlattensAPlantedOutlierChannel) {
  const int64_t b = 64;
  Mat x = gaussian(64, 4 * b, 11);
  for (int64_t t = 0; t < x.rows(); ++t) x(t, 37) *= 100.f;
  for (auto v : {SearchVariant::kReference, SearchVariant::kPaper}) {
    const GreedyResult r = greedy_rotation(x, b, opts(256, v, true));
    EXPECT_GT(r.steps_taken, 0);
    EXPECT_LT(orthogonality_error(r.rotation), 1e-6);
    Mat y = x;
    for (int64_t blk = 0; blk < 4; ++blk) {
      const Mat part = product(x.view().cols_slice(blk * b, b), r.rotation);
      for (int64_t t = 0; t < x.rows(); ++t)
        for (int64_t j = 0; j < b; ++j) y(t, blk * b + j) = part(t, j);
    }
    EXPECT_LT(max_abs(y), 0.3f * max_abs(x));
    float mx = -1e30f, mn = 1e30f;
    for (float e : y.flat()) mx = std::max(mx, e), mn = std::min(mn, e);
    const float recomputed = v == SearchVariant::kReference ? mx - mn : max_abs(y);
    EXPECT_NEAR(recomputed, r.scores[static_cast<size_t>(r.steps_taken)], 1e-3f * recomputed);
    EXPECT_EQ(*std::min_element(r.scores.begin(), r.scores.end()), r.scores[static_cast<size_t>(r.steps_taken)]);
  }
}

// Medium size with normal outlier channels and massive outlier tokens: identical matrices (exact ==),
// scores and exchanges, for both variants; the fast search does less work.
TEST(Greedy, FastSearchIsBitIdentical) {
  const int64_t b = 64;
  Mat x = gaussian(256, 8 * b, 21);
  for (int64_t t = 0; t < x.rows(); ++t) x(t, 5) *= 20.f, x(t, 300) *= -15.f;
  for (int64_t j = 0; j < x.cols(); ++j) x(3, j) *= 300.f, x(100, j) *= 150.f;
  for (auto v : {SearchVariant::kReference, SearchVariant::kPaper}) {
    const GreedyResult ref = greedy_rotation(x, b, opts(128, v, false, 5));
    const GreedyResult fast = greedy_rotation(x, b, opts(128, v, true, 5));
    EXPECT_EQ(ref.scores, fast.scores);
    EXPECT_EQ(ref.exchanges, fast.exchanges);
    EXPECT_EQ(ref.steps_taken, fast.steps_taken);
    for (int64_t k = 0; k < b * b; ++k) ASSERT_EQ(ref.rotation.data()[k], fast.rotation.data()[k]);
    EXPECT_LT(fast.row_updates, ref.row_updates / 2);
    std::printf("variant %d: rows updated %lld (reference) vs %lld (fast), chosen step %d\n", static_cast<int>(v),
                static_cast<long long>(ref.row_updates), static_cast<long long>(fast.row_updates), ref.steps_taken);
  }
}

// The same on data without massive outliers (few rows can be skipped) and with a width that is only one
// block, a block of 1 and an odd block.
TEST(Greedy, FastSearchIsBitIdenticalOnPlainAndOddShapes) {
  struct Case {
    int64_t t, d, b;
  };
  for (Case c : {Case{100, 48, 48}, Case{33, 10, 1}, Case{70, 3 * 13, 13}}) {
    Mat x = gaussian(c.t, c.d, 31 + c.b, 2.0);
    const GreedyResult ref = greedy_rotation(x, c.b, opts(40, SearchVariant::kReference, false));
    const GreedyResult fast = greedy_rotation(x, c.b, opts(40, SearchVariant::kReference, true));
    EXPECT_EQ(ref.scores, fast.scores);
    for (int64_t k = 0; k < c.b * c.b; ++k) ASSERT_EQ(ref.rotation.data()[k], fast.rotation.data()[k]);
  }
}

TEST(Greedy, RejectsBadArguments) {
  Mat x(4, 8);
  EXPECT_THROW(greedy_rotation(x, 16, GreedyOptions{}), Error);
  EXPECT_THROW(greedy_rotation(x, 3, GreedyOptions{}), Error);
  EXPECT_THROW(greedy_rotation(x, 0, GreedyOptions{}), Error);
  x(1, 2) = std::nanf("");
  EXPECT_THROW(greedy_rotation(x, 4, GreedyOptions{}), Error);
}

}  // namespace
}  // namespace duq::transform
