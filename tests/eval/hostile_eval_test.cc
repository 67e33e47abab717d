// Hostile inputs to perplexity: non-finite logits (a broken model) and token streams too short to
// score, each a clear duq::Error rather than a NaN perplexity or an out-of-bounds window.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "eval/perplexity.h"
#include "expect_error.h"

namespace duq::eval {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(HostileTokenNll, NanOrInfLogitsThrowAClearError) {
  const std::vector<std::vector<float>> bad = {
      {kNan, 0.f, 1.f, 2.f},         // NaN first (max_element keeps it)
      {0.f, 1.f, kNan, 2.f},         // NaN in the middle
      {0.f, 1.f, 2.f, kNan},         // NaN on the target
      {0.f, kInf, 1.f, 2.f},         // +Inf: inf - inf
      {-kInf, -kInf, -kInf, -kInf},  // all -Inf: no probability anywhere
      {kNan, kNan, kNan, kNan},
  };
  for (const auto& l : bad) EXPECT_ERROR_HAS(token_nll(l, 3), "NaN or Inf");
  // Control: finite logits give log(4) for uniform logits.
  EXPECT_NEAR(token_nll(std::vector<float>{1.f, 1.f, 1.f, 1.f}, 2), std::log(4.0), 1e-12);
}

TEST(HostilePerplexity, NanLogitsFromTheModelStopTheRun) {
  const std::vector<int> tokens = {1, 5, 6, 7, 8, 9, 5, 6};
  auto run = [](std::span<const int> w) {
    Mat m(static_cast<int64_t>(w.size()), 10);
    m(2, 4) = kNan;  // one poisoned position
    return m;
  };
  PplOptions o;
  o.ctx = 4;
  o.progress = false;
  EXPECT_ERROR_HAS(perplexity(tokens, 1, run, o), "NaN or Inf");
}

TEST(HostilePerplexity, EmptyOrShortTokenStreamIsAnError) {
  auto run = [](std::span<const int> w) { return Mat(static_cast<int64_t>(w.size()), 10); };
  PplOptions o;
  o.ctx = 4;
  o.progress = false;
  EXPECT_ERROR_HAS(perplexity(std::vector<int>{}, 1, run, o), "0 tokens");
  EXPECT_ERROR_HAS(perplexity(std::vector<int>{1}, 1, run, o), "fewer than one window");
  o.ctx = 1;
  EXPECT_ERROR_HAS(perplexity(std::vector<int>{1, 2, 3}, 1, run, o), "--ctx must be at least 2");
}

}  // namespace
}  // namespace duq::eval
