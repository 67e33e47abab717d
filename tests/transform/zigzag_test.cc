// Zigzag permutation worked by hand, partial blocks, bijection; smoothing factors by hand.
#include "transform/zigzag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "test_mats.h"
#include "transform/smoothing.h"

namespace duq::transform {
namespace {

using V = std::vector<int64_t>;

// D = 8, b = 2, K = 4. Sorted by max: ch3 (7), ch1 (5), ch7 (3), ch4 (2), ch6 (1), ch2 (.3), ch5 (.2),
// ch0 (.1). Dealing 0,1,2,3,3,2,1,0: block0 {3, 0}, block1 {1, 5}, block2 {7, 2}, block3 {4, 6}.
TEST(Zigzag, HandWorkedEightChannels) {
  const std::vector<float> m = {0.1f, 5.f, 0.3f, 7.f, 2.f, 0.2f, 1.f, 3.f};
  EXPECT_EQ(zigzag_permutation(m, 2), (V{3, 0, 1, 5, 7, 2, 4, 6}));
}

// D = 7, b = 3: blocks of capacity 3, 3 and a partial block of 1. m_j = j + 1, so channels go 6..0.
// 6→b0, 5→b1, 4→b2 (now full), turn at the end (b2 again: full, passed over) → 3→b1, 2→b0, turn:
// 1→b0, 0→b1. Blocks {6,2,1}, {5,3,0}, {4}.
TEST(Zigzag, HandWorkedPartialBlock) {
  const std::vector<float> m = {1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(zigzag_permutation(m, 3), (V{6, 2, 1, 5, 3, 0, 4}));
}

// Equal maxima keep index order: 0..5 dealt 0,1,2,2,1,0 → {0,5}, {1,4}, {2,3}.
TEST(Zigzag, TiesAreStable) { EXPECT_EQ(zigzag_permutation(std::vector<float>(6, 1.f), 2), (V{0, 5, 1, 4, 2, 3})); }

TEST(Zigzag, IsABijectionAndBalancesBlocks) {
  for (int64_t d : {64, 100, 129}) {
    const Mat x = test::gaussian(3, d, static_cast<uint64_t>(d));
    const auto m = column_abs_max(x);
    const V p = zigzag_permutation(m, 16);
    V sorted = p;
    std::sort(sorted.begin(), sorted.end());
    V iota(static_cast<size_t>(d));
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota);
    // The top-K channels land in K different full blocks.
    V order = iota;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return m[a] > m[b]; });
    const V inv = inverse_permutation(p);
    std::vector<int> hits(static_cast<size_t>(d / 16 + 1), 0);
    for (int64_t i = 0; i < d / 16; ++i) ++hits[static_cast<size_t>(inv[static_cast<size_t>(order[i])] / 16)];
    for (int64_t blk = 0; blk < d / 16; ++blk) EXPECT_EQ(hits[static_cast<size_t>(blk)], 1) << d;
  }
}

TEST(Zigzag, PermuteColumnsAndInverse) {
  Mat x = test::gaussian(4, 5, 2);
  const Mat orig = x;
  const V p = {4, 2, 0, 1, 3};
  permute_columns(x, p);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 5; ++j) ASSERT_EQ(x(i, j), orig(i, p[static_cast<size_t>(j)]));
  permute_columns(x, inverse_permutation(p));
  for (int64_t k = 0; k < x.size(); ++k) ASSERT_EQ(x.flat()[k], orig.flat()[k]);
  EXPECT_THROW(zigzag_permutation(std::vector<float>(4, 1.f), 5), Error);
}

// α = 0.6: a = 32, w = 1 → 32^0.6 = 8; a = 1, w = 32 → 1/32^0.4 = 1/4.
// α = 0.5: a = 4, w = 1 → 2; a = 1e-7 (floored to 1e-5) → √1e-5 ≈ 0.0032 → raised to 0.01;
// a = 1e-4, w = 1e6 → 0.01/1000 → 0.01.
TEST(Smoothing, FactorsByHand) {
  const auto s = smoothing_factors(std::vector<float>{32.f, 1.f}, std::vector<float>{1.f, 32.f}, 0.6f);
  EXPECT_NEAR(s[0], 8.f, 1e-5f);
  EXPECT_NEAR(s[1], 0.25f, 1e-6f);
  const auto t = smoothing_factors(std::vector<float>{4.f, 1e-7f, 1e-4f}, std::vector<float>{1.f, 1.f, 1e6f}, 0.5f);
  EXPECT_NEAR(t[0], 2.f, 1e-6f);
  EXPECT_EQ(t[1], 1e-2f);
  EXPECT_EQ(t[2], 1e-2f);
  EXPECT_THROW(smoothing_factors(std::vector<float>{1.f}, std::vector<float>{1.f, 2.f}), Error);
  EXPECT_THROW(smoothing_factors(std::vector<float>{1.f}, std::vector<float>{1.f}, 1.5f), Error);
  // SmoothQuant's floor 1e-5: √1e-5 ≈ 0.00316 stays, 0.01/1000 = 1e-5 stays (not raised to 0.01).
  const auto u =
      smoothing_factors(std::vector<float>{1e-7f, 1e-4f}, std::vector<float>{1.f, 1e6f}, 0.5f, kSmoothQuantSmoothFloor);
  EXPECT_NEAR(u[0], std::sqrt(1e-5), 1e-7);
  EXPECT_NEAR(u[1], 1e-5, 1e-9);
}

TEST(Smoothing, ColumnAbsMax) {
  Mat x(2, 3);
  x(0, 0) = -3, x(1, 0) = 2, x(0, 1) = 0.5f, x(1, 2) = -7;
  EXPECT_EQ(column_abs_max(x), (std::vector<float>{3.f, 0.5f, 7.f}));
}

}  // namespace
}  // namespace duq::transform
