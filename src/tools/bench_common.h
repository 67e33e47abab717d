// Shared by the `duquant bench` modes: pinning to one core with single-threaded BLAS / oneDNN, and
// timing by medians of repeated runs.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace duq::tools {

// Pins the process to one CPU (the first one it may run on, or `core` when ≥ 0) and limits OpenBLAS and
// OpenMP (oneDNN's runtime) to one thread. Returns the CPU pinned to (−1 when pinning failed).
int pin_single_thread(int core = -1);

// The clock the benchmarks read: CPU time of the process by default (the work is single-threaded, and on a
// shared, oversubscribed machine wall time mostly measures the other jobs), or wall time.
void use_wall_clock(bool wall);
bool wall_clock();
double bench_now();  // seconds on that clock
const char* clock_name();

// Median seconds per call of f over `reps` repetitions; each repetition calls f at least once and until
// `min_seconds` have passed, and reports the mean of its calls. One untimed warm-up call first.
double median_seconds(const std::function<void()>& f, int reps, double min_seconds);
// The same for several functions measured interleaved: repetition r times f0, f1, … in turn, then r + 1, so
// every one sees the same stretches of a shared, noisy machine and the ratios between them are paired (timed
// one after another, a block of repetitions each, they swung ±15–25% against each other between runs).
std::vector<double> median_seconds_interleaved(const std::vector<std::function<void()>>& fs, int reps,
                                               double min_seconds);

// "%.*f" without locale surprises, for JSON numbers.
std::string json_number(double v, int digits = 3);

}  // namespace duq::tools
