// Small element-wise and row-wise operations of the LLaMA forward pass (fp32, scalar: they are a few
// percent of the time next to the GEMMs; the compiler vectorises the loops). Rows split over num_threads()
// (core/threads.h) when there are enough of them; every row's arithmetic is the same on any thread.
#pragma once
#include <bit>
#include <cstdint>
#include <functional>
#include <span>

#include "core/tensor.h"

namespace duq::kernels {

// body(r0, r1) over row ranges of a [rows × cols] operand: split over the threads when it is large enough,
// else one call body(0, rows).
void for_rows(int64_t rows, int64_t cols, const std::function<void(int64_t, int64_t)>& body);
// x += y (residual add)   x, y [T×D]
void add_rows(MatView x, ConstMatView y);
// x[t,:] −= c for every row t (key centering)   x [T×D], c [D]
void subtract_from_rows(MatView x, std::span<const float> c);
// y[t,:] = x[t,:] / sqrt(mean(x[t,:]²) + eps) · w      x, y [T×D] (may alias), w [D]
void rmsnorm(ConstMatView x, std::span<const float> w, float eps, MatView y);
// softmax(scale·x) in place over the valid entries of each row; entries past them are set to 0.
// causal_offset: row t has n_valid_from_row0 + t valid entries (attention mask); else all are valid.
void softmax_rows(MatView x, int64_t n_valid_from_row0, bool causal_offset, float scale = 1.f);
// softmax(scale·x) in place; scale must be > 0.
void softmax(std::span<float> x, float scale = 1.f);
// e^x in float, relative error < 2e-7 for x in [−87, 88]; vectorisable (inline, branch-free).
// e^x = 2^n · e^r with n = round(x·log2 e) (the 1.5·2^23 trick rounds to nearest in SSE2),
// r = x − n·ln2 (ln2 split in two for exactness), e^r by Cephes' degree-6 polynomial on |r| ≤ ln2/2.
inline float exp_approx(float x) {
  x = x < -87.f ? -87.f : (x > 88.f ? 88.f : x);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}
// out = silu(gate) ⊙ up, element-wise; silu(g) = g / (1 + e^−g)     all [T×H]
void swiglu(ConstMatView gate, ConstMatView up, MatView out);

// RoPE angle tables: cos/sin [max_pos × hd/2], angle = pos · theta^(−2i/hd), computed in double.
struct RopeTable {
  int head_dim = 0;
  Mat cos, sin;
  RopeTable() = default;
  RopeTable(int max_pos, int head_dim, float theta);
  // From the hd/2 inverse frequencies (angle = pos · inv_freq[i]): scaled RoPE variants (model/rope_freq.h).
  RopeTable(int max_pos, std::span<const double> inv_freq);
};
// Rotates each head of x [T×(n_heads·hd)] for positions pos0..pos0+T−1.
// interleaved: pairs (2i, 2i+1) (llama2.c); otherwise pairs (i, i + hd/2) (Hugging Face "rotate half").
void rope(MatView x, int n_heads, int pos0, const RopeTable& table, bool interleaved);

}  // namespace duq::kernels
