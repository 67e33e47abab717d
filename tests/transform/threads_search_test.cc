// The greedy rotation search splits each step's panel updates and extreme scans over the threads; the
// per-range extremes merge to the serial scan's (value, first position) exactly, so the trajectory (scores,
// exchanges) and the rotation are bit-identical at 1, 2 and 3 threads, for the fast and the reference
// search (which must also agree with each other: an independent implementation of the same steps) and both
// variants. Inputs with massive outliers and with exact ties (repeated rows) exercise the tie rule.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"
#include "test_support.h"
#include "threads_scope.h"
#include "transform/duquant_transform.h"
#include "transform/greedy_rotation.h"
#include "transform/search_rows.h"

namespace duq::transform {
namespace {

using test::kThreadCounts;
using test::ThreadsScope;

void expect_same(const GreedyResult& a, const GreedyResult& b, const std::string& what) {
  EXPECT_EQ(a.exchanges, b.exchanges) << what;
  EXPECT_EQ(a.steps_taken, b.steps_taken) << what;
  ASSERT_EQ(a.scores.size(), b.scores.size()) << what;
  EXPECT_EQ(std::memcmp(a.scores.data(), b.scores.data(), a.scores.size() * sizeof(float)), 0) << what;
  ASSERT_EQ(a.rotation.size(), b.rotation.size()) << what;
  EXPECT_EQ(std::memcmp(a.rotation.data(), b.rotation.data(), a.rotation.size() * sizeof(float)), 0) << what;
}

Mat outlier_input(uint64_t seed, bool ties) {
  Mat x = test::random_normal_mat(150, 256, seed);  // 150·4 = 600 rows of Y: 10 panels
  for (int64_t t = 0; t < x.rows(); t += 7) x(t, (t * 13) % 256) *= 40.f;
  if (ties)
    for (int64_t t = 1; t < x.rows(); t += 2)
      for (int64_t j = 0; j < x.cols(); ++j) x(t, j) = x(t - 1, j);  // every extreme occurs twice
  return x;
}

TEST(ThreadsSearch, GreedyRotationSameAtEveryThreadCount) {
  for (bool ties : {false, true})
    for (SearchVariant v : {SearchVariant::kReference, SearchVariant::kPaper}) {
      const Mat x = outlier_input(ties ? 5 : 6, ties);
      GreedyOptions o;
      o.steps = 40;
      o.variant = v;
      o.seed = 3;
      GreedyResult ref;
      {
        ThreadsScope one(1);
        o.fast = false;
        ref = greedy_rotation(x, 64, o);
        o.fast = true;
        expect_same(greedy_rotation(x, 64, o), ref, "fast vs reference, one thread");
      }
      for (int t : kThreadCounts) {
        ThreadsScope threads(t);
        for (bool fast : {false, true}) {
          o.fast = fast;
          expect_same(greedy_rotation(x, 64, o), ref,
                      std::string(fast ? "fast" : "reference") + (ties ? " ties" : "") +
                          (v == SearchVariant::kPaper ? " paper" : " reference-variant") + " threads " +
                          std::to_string(t));
        }
      }
    }
}

TEST(ThreadsSearch, DuQuantSearchSameAtEveryThreadCount) {
  const Mat x = outlier_input(8, false);
  DuQuantOptions o;
  o.block = 64;
  o.steps = 24;
  o.rounds = 1;
  o.seed = 11;
  Mat want_x;
  DuQuantTransform want;
  {
    ThreadsScope one(1);
    want = duquant_search(x, o, &want_x);
  }
  for (int t : kThreadCounts) {
    ThreadsScope threads(t);
    Mat got_x;
    const DuQuantTransform got = duquant_search(x, o, &got_x);
    EXPECT_EQ(got.perms, want.perms) << t;
    ASSERT_EQ(got.rotations.size(), want.rotations.size());
    for (size_t i = 0; i < got.rotations.size(); ++i)
      EXPECT_EQ(std::memcmp(got.rotations[i].full.data(), want.rotations[i].full.data(),
                            sizeof(float) * static_cast<size_t>(want.rotations[i].full.size())),
                0)
          << t;
    EXPECT_EQ(std::memcmp(got_x.data(), want_x.data(), sizeof(float) * static_cast<size_t>(want_x.size())), 0) << t;
  }
}

// The merge of per-range scans equals one scan over all rows, for every split point, on rows of a few
// small integers (so the max, the min and the largest magnitude each occur many times: the first position
// must win whichever range holds it).
TEST(ThreadsSearch, ExtremesMergeEqualsOneScanAtEverySplit) {
  Rng rng(13);
  const int64_t rows = 40, b = 6;
  std::vector<float> y(static_cast<size_t>(rows * b));
  std::vector<int64_t> flat0(static_cast<size_t>(rows));
  for (auto& v : y) v = static_cast<float>(static_cast<int>(rng.below(7)) - 3);              // −3 … 3
  for (int64_t r = 0; r < rows; ++r) flat0[static_cast<size_t>(r)] = ((r * 17) % rows) * b;  // a stored order
  detail::Extremes all;
  for (int64_t r = 0; r < rows; ++r) all.merge_row(&y[static_cast<size_t>(r * b)], b, flat0[static_cast<size_t>(r)]);
  for (int64_t s1 = 0; s1 <= rows; ++s1)
    for (int64_t s2 = s1; s2 <= rows; s2 += 7) {
      detail::Extremes part[3];
      for (int64_t r = 0; r < rows; ++r)
        part[r < s1 ? 0 : r < s2 ? 1 : 2].merge_row(&y[static_cast<size_t>(r * b)], b, flat0[static_cast<size_t>(r)]);
      for (const int order : {0, 1}) {  // merged in range order and in reverse
        detail::Extremes m;
        for (int i = 0; i < 3; ++i) m.merge(part[order ? 2 - i : i]);
        ASSERT_EQ(m.max, all.max);
        ASSERT_EQ(m.max_at, all.max_at) << s1 << " " << s2;
        ASSERT_EQ(m.min_at, all.min_at) << s1 << " " << s2;
        ASSERT_EQ(m.amax_at, all.amax_at) << s1 << " " << s2;
      }
    }
}

}  // namespace
}  // namespace duq::transform
