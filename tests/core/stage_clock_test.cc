// core/stage_clock: exclusive accounting (a nested scope pauses its parent), so the stages of one outermost
// scope add up to its duration; nothing is recorded while disabled.
#include "core/stage_clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace duq::stage_clock {
namespace {

using Steady = std::chrono::steady_clock;

double since(Steady::time_point t0) { return std::chrono::duration<double>(Steady::now() - t0).count(); }

void spin(double seconds) {
  const auto t0 = Steady::now();
  while (since(t0) < seconds) {
  }
}

TEST(StageClock, DisabledRecordsNothing) {
  enable(false);
  reset();
  {
    const Scope s(Stage::kIntGemm);
    spin(0.002);
  }
  for (double v : totals()) EXPECT_EQ(v, 0.0);
}

TEST(StageClock, NestedScopesAreExclusiveAndAddUpToTheOuterDuration) {
  use_cpu_time(false);
  reset();
  enable(true);
  const auto t0 = Steady::now();
  {
    const Scope outer(Stage::kLinear);
    spin(0.004);
    {
      const Scope inner(Stage::kActQuant);
      spin(0.006);
    }
    {
      const Scope inner(Stage::kIntGemm);
      spin(0.003);
    }
    spin(0.002);
  }
  const double whole = since(t0);
  enable(false);
  // Each stage holds at least the time spun inside it alone (the inner spins are not counted twice) …
  EXPECT_GE(seconds(Stage::kActQuant), 0.006);
  EXPECT_GE(seconds(Stage::kIntGemm), 0.003);
  EXPECT_GE(seconds(Stage::kLinear), 0.006);
  // … and the three add up to the outer scope's duration, bracketed by the test's own clock reads.
  const double sum = seconds(Stage::kLinear) + seconds(Stage::kActQuant) + seconds(Stage::kIntGemm);
  EXPECT_LE(sum, whole);
  EXPECT_GE(sum, 0.015);
  EXPECT_EQ(seconds(Stage::kAttention), 0.0);
  reset();
  EXPECT_EQ(seconds(Stage::kLinear), 0.0);
}

TEST(StageClock, EveryStageHasAName) {
  for (int s = 0; s < kNumStages; ++s) EXPECT_NE(std::string(name(static_cast<Stage>(s))), "");
}

}  // namespace
}  // namespace duq::stage_clock
