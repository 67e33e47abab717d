#include "core/stage_clock.h"

#include <time.h>

#include <atomic>

namespace duq::stage_clock {

namespace {
std::atomic<bool> g_on{false};
std::atomic<bool> g_cpu{false};
std::array<double, kNumStages> g_total{};  // written by the thread that opened the scopes (one at a time)
thread_local Scope* t_top = nullptr;

double now() {
  timespec ts{};
  clock_gettime(g_cpu.load(std::memory_order_relaxed) ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

const char* name(Stage s) {
  static constexpr const char* kNames[kNumStages] = {
      "embedding", "RMSNorm",     "float linear", "act transform+quant", "integer GEMM",
      "RoPE",      "Q/K/V quant", "attention",    "SwiGLU+residual",     "classifier"};
  return kNames[static_cast<int>(s)];
}
void enable(bool on) { g_on.store(on, std::memory_order_relaxed); }
void use_cpu_time(bool on) { g_cpu.store(on, std::memory_order_relaxed); }
bool enabled() { return g_on.load(std::memory_order_relaxed); }
void reset() { g_total.fill(0.0); }
double seconds(Stage s) { return g_total[static_cast<size_t>(s)]; }
std::array<double, kNumStages> totals() { return g_total; }

Scope::Scope(Stage s) : stage_(s), on_(enabled()) {
  if (!on_) return;
  t0_ = now();
  parent_ = t_top;
  if (parent_) g_total[static_cast<size_t>(parent_->stage_)] += t0_ - parent_->t0_;
  t_top = this;
}

Scope::~Scope() {
  if (!on_) return;
  const double t = now();
  g_total[static_cast<size_t>(stage_)] += t - t0_;
  t_top = parent_;
  if (parent_) parent_->t0_ = t;
}

}  // namespace duq::stage_clock
