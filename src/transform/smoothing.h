// SmoothQuant-style per-channel smoothing factors (spec §2 step 1) and the channel statistics they use.
#pragma once
#include <span>
#include <vector>

#include "core/tensor.h"

namespace duq::transform {

// m_j = max_i |x_ij| over the rows of x [R×C] (per input channel for activations [T×D] and weights [O×D]).
std::vector<float> column_abs_max(ConstMatView x);

// Lower bounds on s: DuQuant's code raises the factors to at least 1e-2; SmoothQuant's own smooth.py clamps
// them at 1e-5 (scales.clamp(min=1e-5)).
inline constexpr float kDuQuantSmoothFloor = 1e-2f;
inline constexpr float kSmoothQuantSmoothFloor = 1e-5f;

// s_j = max(a_j, 1e-5)^α / max(w_j, 1e-5)^(1−α), then raised to at least `floor`.
// a_j = max |x_j| over the calibration activations, w_j = max |W[:, j]| of the consumer weight.
// Activations are divided by s (x·Λ⁻¹), weights' columns multiplied by it (W·Λ).
// Throws duq::Error on a length mismatch, α outside [0, 1] or floor ≤ 0.
std::vector<float> smoothing_factors(std::span<const float> act_max, std::span<const float> weight_max,
                                     float alpha = 0.6f, float floor = kDuQuantSmoothFloor);

}  // namespace duq::transform
