// Time per stage of a forward pass, accumulated while enabled (`duquant bench e2e --stages`): a read-only
// observer that tells where a decode step's time goes (e.g. why 16 sequences in one batch are not 16× one).
// Disabled (the default): a scope costs one relaxed atomic load. Exclusive time: a scope opened inside another
// pauses the outer one, so the stages add up to the time spent inside outermost scopes. Scopes are opened on
// the calling thread only, around (never inside) parallel regions: a stage's time is wall time of the whole
// region.
#pragma once
#include <array>

namespace duq::stage_clock {

enum class Stage {
  kEmbed,
  kNorm,
  kLinear,
  kActQuant,
  kIntGemm,
  kRope,
  kQkQuant,
  kAttention,
  kElementwise,
  kClassifier,
  kCount
};
constexpr int kNumStages = static_cast<int>(Stage::kCount);

const char* name(Stage s);
void enable(bool on);
void use_cpu_time(bool on);  // process CPU time (a benchmark pinned to one core on a shared machine) instead of wall
bool enabled();
void reset();             // every total to 0
double seconds(Stage s);  // accumulated exclusive wall time
std::array<double, kNumStages> totals();

class Scope {
 public:
  explicit Scope(Stage s);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Stage stage_;
  bool on_;
  double t0_ = 0;
  Scope* parent_ = nullptr;
};

}  // namespace duq::stage_clock
