// Runs a test section at a given thread count (core/threads.h) and restores the previous one.
#pragma once
#include "core/threads.h"

namespace duq::test {

struct ThreadsScope {
  explicit ThreadsScope(int n) : saved_(num_threads()) { set_threads(n); }
  ~ThreadsScope() { set_threads(saved_); }
  ThreadsScope(const ThreadsScope&) = delete;
  ThreadsScope& operator=(const ThreadsScope&) = delete;

 private:
  int saved_;
};

// The thread counts the determinism tests compare: 1, 2, 3 (3 on a 2-core machine oversubscribes, which is
// fine for correctness, and splits every range unevenly).
inline constexpr int kThreadCounts[] = {1, 2, 3};

}  // namespace duq::test
