// What `duquant quantize` / `compare` do: the method and its settings. Defaults are the paper's (spec §6):
// W4A4, activation clip (lac) 0.9 on all linear inputs and on Q/K, weight clip (swc) 0.8, α = 0.6
// (SmoothQuant baseline: 0.5), block 128, 256 greedy steps, one permutation round, 128 calibration
// windows of 2048 tokens (clamped to the model's context).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "transform/greedy_rotation.h"

namespace duq::calib {

enum class Method { Fp, Rtn, SmoothQuant, Rotation, DuQuant };

struct QuantOptions {
  Method method = Method::DuQuant;
  int wbits = 4, abits = 4;
  int kv_bits = 0;         // 0 = abits (K and V per head and token)
  float lac = 0.9f;        // activation clip ratio (per token, all linear inputs)
  float swc = 0.8f;        // weight clip ratio (per output channel)
  float qk_clip = -1.f;    // Q/K clip; < 0 = lac (the reference applies lac to Q/K too)
  float alpha = -1.f;      // smoothing strength; < 0 = method default (DuQuant 0.6, SmoothQuant 0.5)
  bool smooth = true;      // DuQuant ablation: smoothing on/off
  bool permute = true;     // DuQuant ablation: zigzag permutation (off = one rotation only)
  int rounds = 1;          // permutation rounds (rotations = rounds + 1)
  int steps = 256;         // greedy steps N
  int block = 128;         // rotation block size b (clamped to each input's width unless block_explicit)
  bool block_explicit = false;
  transform::SearchVariant variant = transform::SearchVariant::kReference;
  int qk_hadamard = -1;    // Hadamard over head_dim on Q/K: 1 on, 0 off, −1 = on for rotation/duquant
  uint64_t seed = 2;       // the random draws in the search / randomized Hadamard
  int nsamples = 128;      // calibration windows
  int calib_ctx = 2048;    // tokens per calibration window (clamped to the model's context)
  uint64_t calib_seed = 2; // which windows
  bool progress = true;

  int kv() const { return kv_bits > 0 ? kv_bits : abits; }
  float qk_clip_ratio() const { return qk_clip >= 0 ? qk_clip : lac; }
  float smoothing_alpha() const { return alpha >= 0 ? alpha : (method == Method::SmoothQuant ? 0.5f : 0.6f); }
  bool qk_rotate() const {
    return qk_hadamard >= 0 ? qk_hadamard == 1 : (method == Method::Rotation || method == Method::DuQuant);
  }
  // Throws duq::Error on bits outside 2–8 (8 for "off" is allowed as 16 = no quantization), clip ratios
  // outside (0, 1], alpha outside [0, 1], steps/block/rounds/nsamples < 1.
  void validate() const;
  // One line: "duquant W4A4 (kv 4, lac 0.9, swc 0.8, α 0.6, block 128, steps 256, rounds 1, seed 2)".
  std::string describe() const;
};

// "fp", "rtn", "smoothquant", "rotation", "duquant" (throws on anything else, listing the choices).
Method parse_method(const std::string& name);
std::string method_name(Method m);
std::vector<std::string> method_names();

// Bits of 16 mean "not quantized" on that side (W16A16 = float).
constexpr int kNoQuant = 16;

}  // namespace duq::calib
