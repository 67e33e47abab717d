// The continuous-batching scheduler on stories260K (float engine), without sockets: requests batched
// together return exactly their solo text, the queue bound, cancellation freeing the slot, stop texts,
// limits.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/forward.h"
#include "model/tokenizer.h"
#include "serve/scheduler.h"
#include "test_support.h"

namespace duq::serve {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path a = test::assets_dir();
  bool ok = fs::exists(a / "models/stories260K/stories260K.bin");
  std::unique_ptr<model::Model> m;
  std::unique_ptr<model::Tokenizer> tok;
  Fixture() {
    if (!ok) return;
    m = std::make_unique<model::Model>(model::Model::load((a / "models/stories260K/stories260K.bin").string()));
    tok = model::load_tokenizer((a / "models/stories260K/tok512.bin").string(), m->config().bos_id, m->config().eos_id);
  }
  Engine engine() const {
    return Engine{m->config(), tok.get(), [this](std::span<const model::SeqChunk> c) { return m->forward_batch(c); }};
  }
};

std::string run_all(Scheduler& s, const std::vector<std::shared_ptr<Job>>& jobs, std::vector<std::string>& texts) {
  texts.assign(jobs.size(), "");
  for (int guard = 0; guard < 100000; ++guard) {
    const bool worked = s.step();
    bool all = true;
    for (size_t i = 0; i < jobs.size(); ++i) {
      bool done = false;
      texts[i] += jobs[i]->read(std::chrono::milliseconds(0), done);
      all = all && done;
    }
    if (all) return "";
    if (!worked) return "scheduler idle with unfinished jobs";
  }
  return "did not finish";
}

GenParams greedy(int n) {
  GenParams p;
  p.max_tokens = n;
  p.temperature = 0;
  return p;
}

TEST(Scheduler, BatchedRequestsReturnTheirSoloText) {
  Fixture f;
  if (!f.ok) GTEST_SKIP() << "assets not found";
  const std::vector<std::string> prompts = {"Once upon a time", "The cat",
                                            "Lily and Tom went to the park to play with "
                                            "a big red ball. They",
                                            "One day", "A bird sang"};
  std::vector<std::string> solo;
  for (const auto& p : prompts) {
    SchedulerConfig c;
    c.parallel = 1;
    c.prefill_chunk = 8;
    Scheduler s(f.engine(), c);
    std::vector<std::string> t;
    ASSERT_EQ(run_all(s, {s.submit(f.tok->encode(p, true, false), greedy(20))}, t), "");
    solo.push_back(t[0]);
    EXPECT_FALSE(t[0].empty());
  }
  EXPECT_NE(solo[0], solo[1]);
  SchedulerConfig c;
  c.parallel = 3;  // 5 requests on 3 slots: two wait and join a running batch
  c.prefill_chunk = 8;
  Scheduler s(f.engine(), c);
  std::vector<std::shared_ptr<Job>> jobs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenParams p = greedy(20);
    p.seed = 100 + i;  // greedy: the seed must not matter
    jobs.push_back(s.submit(f.tok->encode(prompts[i], true, false), p));
  }
  std::vector<std::string> t;
  ASSERT_EQ(run_all(s, jobs, t), "");
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(t[i], solo[i]) << prompts[i];
    EXPECT_EQ(jobs[i]->finish(), Finish::Length);
    EXPECT_EQ(jobs[i]->completion_tokens, 20);
  }
  const auto st = s.stats();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.queued, 0);
  EXPECT_GT(st.batch_sum, st.steps);  // some steps ran more than one sequence
}

TEST(Scheduler, QueueBoundCancelAndStop) {
  Fixture f;
  if (!f.ok) GTEST_SKIP() << "assets not found";
  SchedulerConfig c;
  c.parallel = 1;
  c.queue = 1;
  Scheduler s(f.engine(), c);
  const auto prompt = f.tok->encode("Once upon a time", true, false);
  auto a = s.submit(prompt, greedy(40)), b = s.submit(prompt, greedy(40));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(s.submit(prompt, greedy(40)), nullptr);  // one slot + one queue place taken
  s.step();
  s.step();
  a->cancel();
  s.step();  // frees a's slot, b takes it
  EXPECT_EQ(a->finish(), Finish::Cancelled);
  EXPECT_LT(a->completion_tokens, 40);
  EXPECT_EQ(s.stats().active, 1);
  b->cancel();
  s.step();
  EXPECT_EQ(s.stats().active, 0);

  // Stop text: the solo text cut before its first occurrence, not included.
  std::vector<std::string> t;
  auto full = s.submit(prompt, greedy(30));
  ASSERT_EQ(run_all(s, {full}, t), "");
  const std::string whole = t[0];
  const size_t cut = whole.find(" was");
  ASSERT_NE(cut, std::string::npos) << whole;
  GenParams p = greedy(30);
  p.stop = {" was"};
  auto stopped = s.submit(prompt, p);
  ASSERT_EQ(run_all(s, {stopped}, t), "");
  EXPECT_EQ(t[0], whole.substr(0, cut));
  EXPECT_EQ(stopped->finish(), Finish::Stop);

  // Limits: prompt beyond the context, max_tokens < 1, empty prompt.
  EXPECT_THROW(s.submit(std::vector<int>(600, 5), greedy(1)), Error);
  EXPECT_THROW(s.submit(prompt, greedy(0)), Error);
  EXPECT_THROW(s.submit({}, greedy(1)), Error);
}

}  // namespace
}  // namespace duq::serve
