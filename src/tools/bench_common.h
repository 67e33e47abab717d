// Shared by the `duquant bench` modes: pinning to one core with single-threaded BLAS / oneDNN, and
// timing by medians of repeated runs.
#pragma once
#include <functional>
#include <string>

namespace duq::tools {

// Pins the process to one CPU (the first one it may run on, or `core` when ≥ 0) and limits OpenBLAS and
// OpenMP (oneDNN's runtime) to one thread. Returns the CPU pinned to (−1 when pinning failed).
int pin_single_thread(int core = -1);

// Median seconds per call of f over `reps` repetitions; each repetition calls f at least once and until
// `min_seconds` have passed, and reports the mean of its calls. One untimed warm-up call first.
double median_seconds(const std::function<void()>& f, int reps, double min_seconds);

// "%.*f" without locale surprises, for JSON numbers.
std::string json_number(double v, int digits = 3);

}  // namespace duq::tools
