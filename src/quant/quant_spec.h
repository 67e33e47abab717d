// What a uniform quantizer does to a matrix: bit width, symmetric or asymmetric grid, clip ratio and
// granularity (which values share one scale). Shapes: activations x [T×D] (one row per token), weights
// W [O×D] (PyTorch out×in layout, one row per output channel).
#pragma once
#include <cstdint>

namespace duq::quant {

// Which values a group runs along.
//  kRow:    a group is g consecutive columns of one row (per token for x [T×D], per output channel for
//           W [O×D]); group_size 0 = the whole row.
//  kColumn: a group is g consecutive rows of one column (per input channel of W [O×D], as AdaDim's
//           per-IC quantization uses); group_size 0 = the whole column.
enum class Axis { kRow, kColumn };

struct QuantSpec {
  int bits = 4;            // 2..8
  bool symmetric = false;  // asymmetric (min/max, zero point) is the reference default
  float clip = 1.0f;       // multiplies the raw min and max (0 < clip ≤ 1): lac 0.9, swc 0.8
  int64_t group_size = 0;  // values per group along `axis`; 0 = the whole row / column
  Axis axis = Axis::kRow;
  // Symmetric only: also use the code −2^(b−1) (GPTQ's / QuaRot's grid, clamp(round(x/Δ), −maxq − 1, maxq));
  // off = the restricted range [−(2^(b−1) − 1), 2^(b−1) − 1]. Δ is the same; it matters only where clipping
  // pushes values past −maxq·Δ.
  bool full_range = false;
};

// Throws duq::Error with a one-line message when the spec is unusable (bits outside 2..8, clip outside
// (0, 1], negative group size) or does not fit a [rows × cols] matrix (group larger than the dimension).
void validate(const QuantSpec& spec);
void validate(const QuantSpec& spec, int64_t rows, int64_t cols);

// Length of the dimension the groups run along, and the effective group size (whole dimension for 0).
int64_t group_dim(const QuantSpec& spec, int64_t rows, int64_t cols);
int64_t effective_group(const QuantSpec& spec, int64_t rows, int64_t cols);
// Number of groups per row (kRow) or per column (kColumn); the last group may be partial.
int64_t groups_per_line(const QuantSpec& spec, int64_t rows, int64_t cols);

}  // namespace duq::quant
