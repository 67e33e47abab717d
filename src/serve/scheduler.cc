#include "serve/scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/sampler.h"

namespace duq::serve {

const char* finish_name(Finish f) {
  switch (f) {
    case Finish::None: return "none";
    case Finish::Stop: return "stop";
    case Finish::Length: return "length";
    case Finish::Cancelled: return "cancelled";
    case Finish::Timeout: return "timeout";
    case Finish::Error: return "error";
  }
  return "?";
}

std::string Job::read(std::chrono::milliseconds wait, bool& done) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, wait, [&] { return !unread_.empty() || finish_ != Finish::None; });
  std::string out;
  out.swap(unread_);
  done = finish_ != Finish::None;
  return out;
}

Finish Job::finish() const {
  std::lock_guard lk(mu_);
  return finish_;
}
std::string Job::error() const {
  std::lock_guard lk(mu_);
  return error_;
}

void Job::push(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lk(mu_);
    unread_ += text;
  }
  cv_.notify_all();
}

void Job::end(Finish f, const std::string& error) {
  {
    std::lock_guard lk(mu_);
    finish_ = f;
    error_ = error;
  }
  cv_.notify_all();
}

// A slot: one KV cache (kept from request to request: positions are overwritten before they are read) and
// the request it serves.
struct Scheduler::Slot {
  Slot(const model::ModelConfig& c, int ctx) : cache(c, ctx), sampler(0.f, 1.f, 0) {}
  model::KVCache cache;
  std::shared_ptr<Job> job;  // null: free
  GenParams p;
  std::vector<int> tokens;  // prompt, then sampled tokens
  int n_prompt = 0;
  int n_past = 0;  // tokens already in the cache
  model::Sampler sampler;
  std::string text;    // generated text so far
  size_t emitted = 0;  // bytes of `text` pushed to the job
};

Scheduler::Scheduler(Engine e, SchedulerConfig c) : e_(std::move(e)), c_(c) {
  if (c_.parallel < 1) fail("--parallel must be at least 1 (got ", c_.parallel, ")");
  if (c_.queue < 0) fail("--queue must be at least 0 (got ", c_.queue, ")");
  if (c_.prefill_chunk < 1) fail("the prefill chunk must be at least 1 token");
  ctx_ = c_.ctx > 0 ? c_.ctx : e_.cfg.max_seq_len;
  if (c_.ctx > e_.cfg.max_seq_len)
    fail("--ctx-size ", c_.ctx, " exceeds the model's maximum context of ", e_.cfg.max_seq_len, " tokens");
  for (int i = 0; i < c_.parallel; ++i) slots_.push_back(std::make_unique<Slot>(e_.cfg, ctx_));
  st_.slots = c_.parallel;
  st_.batch_hist.assign(std::size(kBatchBuckets) + 1, 0);
}

Scheduler::~Scheduler() { stop(); }

std::shared_ptr<Job> Scheduler::submit(std::vector<int> prompt, const GenParams& p) {
  if (prompt.empty()) fail("the prompt is empty");
  if (static_cast<int>(prompt.size()) > ctx_)
    fail("the prompt has ", prompt.size(), " tokens, more than the context of ", ctx_);
  if (p.max_tokens < 1) fail("max_tokens must be at least 1 (got ", p.max_tokens, ")");
  if (!(p.temperature >= 0.f && p.temperature <= 100.f))
    fail("temperature must be in [0, 100] (got ", p.temperature, ")");
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) fail("top_p must be in (0, 1] (got ", p.top_p, ")");
  for (int t : prompt)
    if (t < 0 || t >= e_.cfg.vocab_size)
      fail("token id ", t, " is outside the model's vocabulary (", e_.cfg.vocab_size, ")");
  auto job = std::make_shared<Job>();
  job->prompt_tokens = static_cast<int>(prompt.size());
  job->submitted = Clock::now();
  {
    std::lock_guard lk(mu_);
    if (draining_ || stopping_) return nullptr;
    int free_slots = 0;
    for (auto& s : slots_) free_slots += !s->job;
    if (static_cast<int>(queue_.size()) >= c_.queue + free_slots) return nullptr;
    queue_.push_back({job, p, std::move(prompt)});
    ++st_.requests;
  }
  cv_.notify_all();
  return job;
}

void Scheduler::admit() {
  for (auto& s : slots_) {
    if (s->job) continue;
    while (!queue_.empty() && queue_.front().job->cancelled()) {
      queue_.front().job->end(Finish::Cancelled);
      ++st_.finished[static_cast<int>(Finish::Cancelled)];
      queue_.pop_front();
    }
    if (queue_.empty()) return;
    Pending pd = std::move(queue_.front());
    queue_.pop_front();
    s->job = std::move(pd.job);
    s->p = pd.p;
    s->tokens = std::move(pd.prompt);
    s->n_prompt = static_cast<int>(s->tokens.size());
    s->n_past = 0;
    s->sampler = model::Sampler(s->p.temperature, s->p.top_p, s->p.seed);
    s->text.clear();
    s->emitted = 0;
    st_.prompt_tokens += static_cast<uint64_t>(s->n_prompt);
  }
}

void Scheduler::finish_slot(Slot& s, Finish f, const std::string& err) {
  s.job->end(f, err);
  std::lock_guard lk(mu_);
  ++st_.finished[static_cast<int>(f)];
  s.job.reset();
}

size_t utf8_incomplete_tail(const std::string& s) {
  for (size_t k = 1; k <= std::min<size_t>(3, s.size()); ++k) {
    const auto c = static_cast<unsigned char>(s[s.size() - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

namespace {
// Longest suffix of `text` that is a proper prefix of one of the stop texts (held back while streaming).
size_t stop_prefix_tail(const std::string& text, const std::vector<std::string>& stops) {
  size_t keep = 0;
  for (const auto& st : stops)
    for (size_t n = std::min(st.size() - 1, text.size()); n > keep; --n)
      if (text.compare(text.size() - n, n, st, 0, n) == 0) {
        keep = n;
        break;
      }
  return keep;
}
}  // namespace

bool Scheduler::on_token(Slot& s, int next) {
  Job& job = *s.job;
  const model::Tokenizer& tok = *e_.tok;
  if (job.completion_tokens == 0) job.first_token = Clock::now();
  if (next == tok.eos_id() || next == tok.bos_id() || e_.cfg.is_eos(next)) {
    job.push(s.text.substr(s.emitted));
    finish_slot(s, Finish::Stop);
    return false;
  }
  s.text += tok.decode(s.tokens.back(), next);
  s.tokens.push_back(next);
  job.output_tokens.push_back(next);
  ++job.completion_tokens;
  {
    std::lock_guard lk(mu_);
    ++st_.completion_tokens;
  }
  size_t stop_at = std::string::npos;
  for (const auto& st : s.p.stop) {
    const size_t i = st.empty() ? std::string::npos : s.text.find(st);
    if (i != std::string::npos) stop_at = std::min(stop_at, i);
  }
  if (stop_at != std::string::npos) {
    if (stop_at > s.emitted) job.push(s.text.substr(s.emitted, stop_at - s.emitted));
    finish_slot(s, Finish::Stop);
    return false;
  }
  const bool length = job.completion_tokens >= s.p.max_tokens || s.n_past >= ctx_;
  const size_t hold = length ? 0 : std::max(stop_prefix_tail(s.text, s.p.stop), utf8_incomplete_tail(s.text));
  if (s.text.size() - hold > s.emitted) {
    job.push(s.text.substr(s.emitted, s.text.size() - hold - s.emitted));
    s.emitted = s.text.size() - hold;
  }
  if (length) {
    finish_slot(s, Finish::Length);
    return false;
  }
  return true;
}

bool Scheduler::step() {
  // Cancelled (client gone) and timed-out requests leave first, so their slots take queued requests now.
  const auto now = Clock::now();
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.job) continue;
    if (s.job->cancelled()) {
      finish_slot(s, Finish::Cancelled);
    } else if (s.p.timeout_s > 0 && std::chrono::duration<double>(now - s.job->submitted).count() > s.p.timeout_s) {
      s.job->push(s.text.substr(s.emitted));
      finish_slot(s, Finish::Timeout);
    }
  }
  {
    std::lock_guard lk(mu_);
    admit();
  }
  std::vector<model::SeqChunk> chunks;
  std::vector<Slot*> owners;
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.job) continue;
    // Prefill: the next chunk of at most prefill_chunk prompt tokens; decode: the last sampled token.
    const int end = s.n_past < s.n_prompt ? std::min(s.n_prompt, s.n_past + c_.prefill_chunk) : s.n_past + 1;
    chunks.push_back(
        {std::span<const int>(s.tokens.data() + s.n_past, static_cast<size_t>(end - s.n_past)), s.n_past, &s.cache});
    owners.push_back(&s);
  }
  if (chunks.empty()) return false;
  Mat logits;
  try {
    logits = e_.forward_batch(chunks);
  } catch (const std::exception& ex) {
    for (Slot* s : owners) finish_slot(*s, Finish::Error, ex.what());
    return true;
  }
  int generated = 0;
  for (size_t i = 0; i < owners.size(); ++i) {
    Slot& s = *owners[i];
    s.n_past += static_cast<int>(chunks[i].tokens.size());
    if (s.n_past < static_cast<int>(s.tokens.size())) continue;  // prompt not read to its end yet
    try {
      const int next = s.sampler.sample({logits.row(static_cast<int64_t>(i)), static_cast<size_t>(logits.cols())});
      ++generated;
      on_token(s, next);
    } catch (const std::exception& ex) {
      finish_slot(s, Finish::Error, ex.what());
    }
  }
  std::lock_guard lk(mu_);
  ++st_.steps;
  size_t b = 0;
  while (b < std::size(kBatchBuckets) && static_cast<int>(chunks.size()) > kBatchBuckets[b]) ++b;
  ++st_.batch_hist[b];
  st_.batch_sum += chunks.size();
  const auto t = Clock::now();
  recent_.emplace_back(t, generated);
  while (!recent_.empty() && t - recent_.front().first > std::chrono::seconds(10)) recent_.pop_front();
  return true;
}

void Scheduler::start() {
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] {
          if (stopping_ || !queue_.empty()) return true;
          for (auto& s : slots_)
            if (s->job) return true;
          return false;
        });
        if (stopping_) break;
      }
      step();
    }
    // Whatever is left is cancelled (stop() after drain() finds nothing).
    std::lock_guard lk(mu_);
    for (auto& s : slots_)
      if (s->job) {
        s->job->end(Finish::Cancelled);
        s->job.reset();
      }
    for (auto& pd : queue_) pd.job->end(Finish::Cancelled);
    queue_.clear();
  });
}

void Scheduler::drain(std::chrono::milliseconds max_wait) {
  const auto until = Clock::now() + max_wait;
  {
    std::lock_guard lk(mu_);
    draining_ = true;
  }
  for (;;) {
    {
      std::lock_guard lk(mu_);
      bool busy = !queue_.empty();
      for (auto& s : slots_) busy = busy || s->job;
      if (!busy) break;
    }
    if (Clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
}

void Scheduler::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lk(mu_);
  SchedulerStats s = st_;
  s.queued = static_cast<int>(queue_.size());
  for (auto& sl : slots_) s.active += sl->job != nullptr;
  if (recent_.size() >= 2) {
    int n = 0;
    for (size_t i = 1; i < recent_.size(); ++i) n += recent_[i].second;
    const double dt = std::chrono::duration<double>(recent_.back().first - recent_.front().first).count();
    s.decode_tokens_per_s = dt > 0 ? n / dt : 0;
  }
  return s;
}

}  // namespace duq::serve
