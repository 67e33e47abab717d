// duquant-auto (`--auto`): settings chosen from the user's calibration data instead of the paper's fixed
// ratios. Per linear input (site) of a block:
//   - the transform: none, smoothing (Λ online), rotation (randomized Hadamard) or full DuQuant
//     (Λ · R₁ · P · R₂ searched as usual), and
//   - the per-token activation clip ratio (a grid),
// are chosen together by the output reconstruction error of the site's quantized consumers
//   err = Σ_i ‖Q_a(X·G)·Q_w(W_i·G⁻ᵀ)ᵀ − X·W_iᵀ‖² / Σ_i ‖X·W_iᵀ‖²
// on calibration inputs X [N×D] (the calibration windows as they reach the site through the already
// quantized model), each token's row scaled to unit norm so that every token counts alike (a few massive
// outlier tokens would otherwise decide the clips for all). Inside each candidate, every output row of every consumer
// gets the weight clip ratio (a grid) that minimises that row's output error Σ_k E[x_k²]·(w_k − ŵ_k)² (the diagonal of
// the transformed input's second moment weighs the columns: a column multiplied by large activations matters more).
// Nothing of the evaluation text is ever seen.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "calib/site_transform.h"
#include "core/tensor.h"
#include "quant/gptq.h"
#include "quant/uniform.h"

namespace duq::calib {

struct AutoCandidate {
  std::string name;  // "none", "smooth", "rotation", "duquant"
  SiteTransform st;
};

struct AutoGrid {
  std::vector<float> weight_clips = {1.f, .95f, .9f, .85f, .8f, .75f, .7f, .65f, .6f, .55f, .5f};
  std::vector<float> act_clips = {1.f, .95f, .9f, .85f, .8f, .75f, .7f, .65f, .6f};
  std::vector<float> qk_clips = {1.f, .95f, .9f, .85f, .8f, .75f};
  std::vector<float> gptq_clips = {1.f, .95f, .9f, .85f, .8f, .75f, .7f};  // one GPTQ run each (see below)
};

struct AutoResult {
  size_t chosen = 0;                            // index into the candidates
  float act_clip = 1.f;                         // of the chosen candidate (1 when activations stay float)
  std::vector<double> rel_error;                // [candidate] at its best activation clip
  std::vector<float> best_act_clip;             // [candidate]
  std::vector<quant::QuantizedMat> codes;       // [consumer] W_i·G⁻ᵀ of the chosen candidate, per-row grids
  std::vector<std::vector<float>> row_clip;     // [consumer][row] the chosen weight clip ratios
  int gptq_rows = 0;                            // rows of the chosen candidate's consumers rounded by GPTQ
  std::vector<std::vector<int32_t>> wide;       // [candidate] its wide channels (empty without wide_channels)
  std::vector<quant::QuantizedMat> wide_codes;  // [consumer] the chosen candidate's 8-bit wide columns
};

// Per output row of w [O×D], the clip ratio from `grid` minimising Σ_k col_weight[k]·(w − ŵ)²; the rows
// quantized (per output channel, asymmetric, `bits`) with their ratios. `chosen` gets the ratios.
quant::QuantizedMat quantize_rows_best_clip(ConstMatView w, std::span<const double> col_weight, int bits,
                                            std::span<const float> grid, std::vector<float>* chosen);

// GPTQ per row: GPTQ treats the rows of W independently (the error feedback runs along a row), so running it
// once per clip ratio of `grid` (all rows alike) and keeping, per row, the result with the lowest
// Σ d·H·dᵀ — against the codes already in q (e.g. round-to-nearest at the row's best clip) — chooses each
// row's clip for GPTQ exactly. q (per-row grids) and clips [O] are updated; returns the rows taken from GPTQ.
int gptq_rows_best_clip(ConstMatView w, const quant::Hessian& h, int bits, std::span<const float> grid,
                        const quant::GptqOptions& opts, quant::QuantizedMat& q, std::vector<float>& clips);

// Evaluates every candidate on x [N×D] for the consumer weights (float, before any transform; each [O_i×D]).
// wbits/abits: 16 = that side not quantized. Throws duq::Error when there is no candidate or shapes differ.
// gptq: each candidate's weights are also GPTQ-rounded (Hessian of x·G), each row's clip and rounding chosen
// by gptq_rows_best_clip, before the activation clip is chosen — so the choice sees the weights that will
// be stored.
// wide_channels > 0 (--wide-channels): each candidate keeps the wide_channels columns of x·G with the largest
// max |·| at 8 bits (calib/wide_channels.h: weight columns taken out of the clip choice and GPTQ, activations
// by the split quantizer), so candidates are compared as they will run.
AutoResult auto_select(ConstMatView x, const std::vector<const Mat*>& weights, const std::vector<AutoCandidate>& cands,
                       int wbits, int abits, const AutoGrid& grid = {}, const quant::GptqOptions* gptq = nullptr,
                       int wide_channels = 0);

// One layer's Q/K clip ratio (per head and token quantization of Q at qbits and K at kbits): the ratio from
// grid.qk_clips minimising the attention logits' error Σ_windows Σ_heads Σ_{s≤t} (q̂_t·k̂_s − q_t·k_s)² (rows
// scaled to unit norm per head and token, so every logit counts relative to its size) over
// causal pairs (a K head serves its group of query heads). qk: per window Q [L×n_heads·hd], K [L×n_kv·hd].
struct QkClipResult {
  float clip = 1.f;
  std::vector<double> rel_error;  // [grid index]
};
QkClipResult choose_qk_clip(const std::vector<std::pair<Mat, Mat>>& qk, int head_dim, int n_heads, int n_kv_heads,
                            int qbits, int kbits, const AutoGrid& grid = {});

}  // namespace duq::calib
