// core/threads: the thread-count rules (parsing, default) and the parallel loops (every index exactly once,
// contiguous static ranges, exceptions, nesting).
#include "core/threads.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.h"
#include "threads_scope.h"

namespace duq {
namespace {

TEST(Threads, ParseAcceptsPositiveIntegersOnly) {
  EXPECT_EQ(parse_threads("1", "--threads"), 1);
  EXPECT_EQ(parse_threads("17", "--threads"), 17);
  for (const char* bad : {"", "0", "-1", "+2", " 2", "2 ", "2x", "1.5", "abc", "99999999999999999999", "5000"}) {
    try {
      parse_threads(bad, "--threads");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--threads"), std::string::npos) << e.what();
    }
  }
}

TEST(Threads, DefaultIsWithinTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int allowed = CPU_COUNT(&set);
  const int d = default_threads();
  EXPECT_GE(d, 1);
  EXPECT_LE(d, allowed);  // physical cores ≤ logical CPUs allowed; a cgroup quota only lowers it
}

TEST(Threads, DefaultFollowsANarrowerAffinityMask) {
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int d = default_threads();
  sched_setaffinity(0, sizeof saved, &saved);
  EXPECT_EQ(d, 1);
}

TEST(Threads, ParallelForVisitsEveryIndexOnceInContiguousRanges) {
  for (int t : test::kThreadCounts) {
    test::ThreadsScope scope(t);
    for (int64_t n : {0, 1, 2, 3, 5, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " i " << i;
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> ranges;
      parallel_ranges(n, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(mu);
        ranges.emplace_back(b, e);
      });
      std::sort(ranges.begin(), ranges.end());
      int64_t next = 0;
      for (auto [b, e] : ranges) {
        EXPECT_EQ(b, next);
        EXPECT_LT(b, e);
        next = e;
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(static_cast<int64_t>(ranges.size()), std::max<int64_t>(1, std::min<int64_t>(t, n)));
      if (n >= t) {
        EXPECT_EQ(static_cast<int64_t>(ranges.size()), t) << "n " << n;  // all threads get work
      }
    }
  }
}

TEST(Threads, RunsOnSeveralThreadsAndNestsSerially) {
  test::ThreadsScope scope(2);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> nested_parallel{0};
  parallel_for(2, [&](int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    EXPECT_TRUE(in_parallel());
    // a nested loop runs on the calling thread alone
    const auto me = std::this_thread::get_id();
    parallel_for(4, [&](int64_t) {
      if (std::this_thread::get_id() != me) nested_parallel++;
    });
  });
  EXPECT_FALSE(in_parallel());
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(nested_parallel.load(), 0);
}

TEST(Threads, ExceptionsComeBackToTheCaller) {
  for (int t : test::kThreadCounts) {
    test::ThreadsScope scope(t);
    EXPECT_THROW(parallel_for(10,
                              [](int64_t i) {
                                if (i == 7) fail("item ", i);
                              }),
                 Error);
    EXPECT_EQ(num_threads(), t);  // and the count is intact afterwards
  }
}

}  // namespace
}  // namespace duq
