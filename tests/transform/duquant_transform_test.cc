// Block rotations with a trailing block and the full transform G: orthogonality, composition order,
// the folding invariant (XG)(WG⁻ᵀ)ᵀ = XWᵀ and outlier reduction.
#include "transform/duquant_transform.h"

#include <gtest/gtest.h>

#include "test_mats.h"
#include "transform/block_rotation.h"

namespace duq::transform {
namespace {

using namespace duq::transform::test;

Mat outlier_acts(int64_t t, int64_t d, uint64_t seed) {
  Mat x = gaussian(t, d, seed);
  for (int64_t i = 0; i < t; ++i) x(i, 7) *= 60.f, x(i, d - 3) *= 25.f;
  for (int64_t j = 0; j < d; ++j) x(t / 2, j) *= 40.f;
  return x;
}

TEST(BlockRotation, OrthogonalWithTrailingBlockAndInverse) {
  const Mat x = outlier_acts(64, 200, 1);  // 3 blocks of 64 + a tail of 8
  GreedyOptions o;
  o.steps = 256;
  const BlockRotation r = search_block_rotation(x, 64, o);
  EXPECT_EQ(r.tail_width(), 8);
  EXPECT_EQ(r.tail.rows(), 8);
  EXPECT_LT(orthogonality_error(r.full), 1e-6);
  EXPECT_LT(orthogonality_error(r.tail), 1e-6);
  const Mat m = r.matrix();
  EXPECT_LT(orthogonality_error(m), 1e-6);
  // Block structure: zero outside the diagonal blocks.
  for (int64_t i = 0; i < 200; ++i)
    for (int64_t j = 0; j < 200; ++j)
      if (std::min(i / 64, int64_t{3}) != std::min(j / 64, int64_t{3})) {
        ASSERT_EQ(m(i, j), 0.f);
      }
  Mat y = x;
  r.apply_rows(y);
  EXPECT_LT(max_rel_diff(y, product(x, m)), 1e-5);
  r.apply_rows_inverse(y);
  EXPECT_LT(max_rel_diff(y, x), 1e-5);
  EXPECT_THROW(search_block_rotation(x, 201, o), Error);
}

DuQuantOptions small_opts(int rounds, bool smooth, int64_t d) {
  DuQuantOptions o;
  o.block = 32;
  o.steps = 64;
  o.rounds = rounds;
  o.seed = 7;
  if (smooth) {
    Rng rng(4);
    for (int64_t j = 0; j < d; ++j) o.smooth.push_back(static_cast<float>(0.1 + 3 * rng.uniform()));
  }
  return o;
}

// G assembled independently from its parts: diag(1/s)·R₁·P₁·R₂… with P[perm[i], i] = 1.
Mat assemble(const DuQuantTransform& t, int64_t d) {
  Mat g(d, d);
  for (int64_t i = 0; i < d; ++i) g(i, i) = t.smooth.empty() ? 1.f : 1.f / t.smooth[static_cast<size_t>(i)];
  for (size_t r = 0; r < t.rotations.size(); ++r) {
    g = product(g, t.rotations[r].matrix());
    if (r < t.perms.size()) {
      Mat p(d, d);
      for (int64_t i = 0; i < d; ++i) p(t.perms[r][static_cast<size_t>(i)], i) = 1.f;
      g = product(g, p);
    }
  }
  return g;
}

TEST(DuQuantTransform, ApplyEqualsAssembledMatrix) {
  const int64_t d = 104;  // 3 blocks of 32 + 8
  const Mat x = outlier_acts(40, d, 2);
  for (int rounds : {0, 1, 2})
    for (bool smooth : {false, true}) {
      Mat xt;
      const DuQuantTransform t = duquant_search(x, small_opts(rounds, smooth, d), &xt);
      EXPECT_EQ(t.rotations.size(), static_cast<size_t>(rounds + 1));
      EXPECT_EQ(t.perms.size(), static_cast<size_t>(rounds));
      const Mat want = product(x, assemble(t, d));
      Mat y = x;
      t.apply(y);
      EXPECT_LT(max_rel_diff(y, want), 1e-5);
      EXPECT_LT(max_rel_diff(xt, want), 1e-5);
    }
}

// Without quantization the transform leaves the layer output unchanged: (XG)(W·G⁻ᵀ)ᵀ = XWᵀ.
TEST(DuQuantTransform, FoldingKeepsTheProduct) {
  const int64_t d = 200;  // not a multiple of 32
  const Mat x = outlier_acts(48, d, 3);
  const Mat w = gaussian(24, d, 4);
  const Mat ref = product(x, transpose(w));
  for (int rounds : {1, 2})
    for (bool smooth : {false, true}) {
      const DuQuantTransform t = duquant_search(x, small_opts(rounds, smooth, d));
      Mat xg = x, wg = w;
      t.apply(xg);
      t.fold_weight(wg);
      EXPECT_LT(max_rel_diff(product(xg, transpose(wg)), ref), 1e-4) << rounds << smooth;
    }
}

TEST(DuQuantTransform, FlattensOutliers) {
  const Mat x = outlier_acts(128, 256, 5);
  DuQuantOptions o;
  o.block = 64;
  Mat xt;
  duquant_search(x, o, &xt);
  EXPECT_LT(max_abs(xt), 0.25f * max_abs(x));
}

TEST(DuQuantTransform, RejectsBadOptions) {
  const Mat x = gaussian(4, 16, 1);
  DuQuantOptions o;
  o.block = 17;
  EXPECT_THROW(duquant_search(x, o), Error);
  o.block = 4;
  o.smooth = std::vector<float>(15, 1.f);
  EXPECT_THROW(duquant_search(x, o), Error);
  o.smooth = std::vector<float>(16, 0.f);
  EXPECT_THROW(duquant_search(x, o), Error);
  o.smooth.clear();
  o.rounds = -1;
  EXPECT_THROW(duquant_search(x, o), Error);
}

}  // namespace
}  // namespace duq::transform
