// Continuous batching without HTTP: requests wait in a bounded queue, are admitted into free slots (one KV
// cache each, reused from request to request) at every step, and every step runs one batched forward over
// all active slots (model::Model::forward_batch): the next prefill chunk of a slot still reading its prompt,
// the last sampled token of a slot that is generating. A prompt is read in chunks of exactly
// `prefill_chunk` tokens (the last one shorter) whatever else runs, so with the batch-independent forward a
// request's tokens are the same alone or among others. `duquant generate` runs through this same path with
// one request.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/forward.h"
#include "model/tokenizer.h"

namespace duq::serve {

// What the scheduler runs: the model's batched forward (logits [chunks × V] of each chunk's last token).
struct Engine {
  model::ModelConfig cfg;
  const model::Tokenizer* tok = nullptr;
  std::function<Mat(std::span<const model::SeqChunk>)> forward_batch;
};

struct GenParams {
  int max_tokens = 16;
  float temperature = 1.f, top_p = 1.f;
  uint64_t seed = 0;
  std::vector<std::string> stop;  // texts that end the reply (not included in it)
  double timeout_s = 0;           // from submission; 0 = none
};

enum class Finish { None, Stop, Length, Cancelled, Timeout, Error };
const char* finish_name(Finish f);  // OpenAI's finish_reason: "stop", "length", …

using Clock = std::chrono::steady_clock;

// One request: the scheduler thread appends text and finishes it; the client thread reads.
class Job {
 public:
  // Waits up to `wait` for new text or the end; returns the text not read yet ("" on timeout) and sets
  // `done` once the job has finished and everything was read.
  std::string read(std::chrono::milliseconds wait, bool& done);
  // Asks the scheduler to drop the request (client gone); its slot is freed at the next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // After done: the outcome.
  Finish finish() const;
  std::string error() const;
  int prompt_tokens = 0;
  std::atomic<int> completion_tokens{0};
  std::vector<int> output_tokens;  // sampled ids (scheduler thread; read after done)

  // scheduler side
  void push(const std::string& text);
  void end(Finish f, const std::string& error = "");
  Clock::time_point submitted, first_token;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string unread_;
  Finish finish_ = Finish::None;
  std::string error_;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerConfig {
  int parallel = 4;        // slots (sequences decoded together)
  int ctx = 0;             // positions per slot; 0 = the model's context
  int queue = 64;          // requests waiting beyond the slots; more are refused
  int prefill_chunk = 64;  // prompt tokens per forward and slot
};

struct SchedulerStats {
  int queued = 0, active = 0, slots = 0;
  uint64_t requests = 0, prompt_tokens = 0, completion_tokens = 0, steps = 0;
  uint64_t finished[6] = {};         // by Finish
  uint64_t batch_sum = 0;            // Σ batch sizes over the steps
  std::vector<uint64_t> batch_hist;  // steps by batch size: bucket i counts sizes ≤ kBatchBuckets[i]
  double decode_tokens_per_s = 0;    // generated tokens per second over the last few seconds
};
inline constexpr int kBatchBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

// Bytes at the end of `s` that begin a UTF-8 character not complete yet (0 when s ends on a character
// boundary): a token can carry part of a character (SentencePiece byte fallback), so streamed text holds
// them back until the character is whole.
size_t utf8_incomplete_tail(const std::string& s);

class Scheduler {
 public:
  Scheduler(Engine e, SchedulerConfig c);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks a request against the limits (throws duq::Error naming what is wrong: empty prompt, prompt longer
  // than the context, max_tokens < 1, bad temperature / top_p) and queues it; nullptr when the
  // queue is full or the scheduler is draining.
  std::shared_ptr<Job> submit(std::vector<int> prompt, const GenParams& p);
  int context() const { return ctx_; }

  // One step: admit, one batched forward over every active slot, sample. False when there was nothing to do.
  bool step();
  // Runs steps on a background thread until stop().
  void start();
  // Refuses new requests, lets the queued and active ones finish (at most `max_wait`, then cancels them),
  // stops the thread.
  void drain(std::chrono::milliseconds max_wait);
  void stop();

  SchedulerStats stats() const;

 private:
  struct Slot;
  void admit();  // under mu_
  void finish_slot(Slot& s, Finish f, const std::string& err = "");
  // Appends the sampled token's text, applies stop texts / EOS / limits; true while the slot goes on.
  bool on_token(Slot& s, int next);

  Engine e_;
  SchedulerConfig c_;
  int ctx_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Pending {
    std::shared_ptr<Job> job;
    GenParams p;
    std::vector<int> prompt;
  };
  std::deque<Pending> queue_;
  bool draining_ = false, stopping_ = false;
  std::thread thread_;
  SchedulerStats st_;
  std::deque<std::pair<Clock::time_point, int>> recent_;  // (step end, tokens generated)
};

}  // namespace duq::serve
