// Planting the two kinds of activation outliers of spec §1 into (random) LLaMA weights, deterministically
// for a seed, so that the quantization methods can be compared on the structure DuQuant targets.
//
// (a) Normal outliers: N channels k× larger in EVERY token at each of the four linear inputs.
//     AttnIn / FfnIn: attn_norm / ffn_norm weights × k at N residual channels (the same channels in every
//       layer, as in LLaMA);
//     AttnOut: N rows of W_v × k (the attention output is a convex mix of v rows, so those channels scale);
//     DownIn: N hidden rows of W_up × k (silu(gate)⊙up is linear in up).
//     Optionally the consumers' columns are multiplied by k^−γ (γ = weight_compensation): γ = 0 (default)
//     leaves the weights as drawn, so the outlier channels also carry more of the output (as in real models,
//     where the weight columns of outlier channels are not smaller); γ = 1 keeps the float model's function
//     unchanged apart from the massive-outlier circuit (pure "smoothing in reverse").
//
// (b) Massive outliers (LLaMA-2-7B: a few tokens — BOS, the first '.' or '\n' — with values 100–1000× the
//     median at the down-projection input). A residual channel c is reserved:
//       embed[v][c] = 0 for every token v except the trigger ids, which get embed[t][c] = a·‖embed[t][≠c]‖
//         (a = massive_residual, default 8), so after RMSNorm the trigger token's row is dominated by c:
//         xn_c = g_c·x_c / rms(x) ≈ g_c·√D·a/√(1+a²) =: ξ (≈ 63.5 for D = 4096, a = 8) and its other channels
//         shrink by √(1+a²). A large a keeps ξ ≈ √D even when the blocks' outputs grow the rest of the row;
//       rows c of W_o and W_down are zeroed, so no block writes into c: x_c stays exactly 0 for ordinary
//         tokens and a·‖·‖ for trigger tokens in every layer;
//       per layer one hidden channel h* (drawn per layer, not among the normal-outlier channels) becomes a
//         detector: rows h* of W_gate and W_up are zero except W_gate[h*][c] = W_up[h*][c] = G/ξ. For a trigger
//         token gate_h* ≈ up_h* ≈ G and act_h* = silu(G)·G; for ordinary tokens (xn_c = 0) act_h* = 0 exactly.
//         Column h* of W_down stays as drawn (dense): the massive value feeds every output channel, so
//         smoothing that divides it out of the activation multiplies a whole weight column (spec §1).
//       G solves silu(G)·G = S·m, where S = massive_scale and m = the median |silu(g)·u| of ordinary tokens,
//         with g, u ~ N(0, σ²), σ² = mean(ffn_norm²) (the gate/up variance of unit-variance normalised rows
//         through N(0, 1/D) weights) — evaluated by a fixed-seed Monte Carlo. So the trigger tokens' value
//         at DownIn is ≈ S × the median |x| there (the median shifts somewhat in later layers, whose inputs
//         are not unit-variance per channel any more).
//     The RMSNorm weights at c stay 1, so trigger tokens also carry a ξ-sized entry at AttnIn / FfnIn (only
//     in those tokens); the final norm and the classifier are untouched.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace duq::model {

struct OutlierSpec {
  // (a) normal outliers
  int channels = 0;                 // N per linear input (0 = none)
  float scale = 1.f;                // k
  float weight_compensation = 0.f;  // γ: consumer columns × k^−γ (0 = none, 1 = function-preserving)
  bool at_attn_in = true, at_attn_out = true, at_ffn_in = true, at_down_in = true;
  // (b) massive outliers
  std::vector<int> massive_tokens;  // trigger token ids (empty = none)
  float massive_scale = 300.f;      // S: target act_h* / median |act| at DownIn
  float massive_residual = 8.f;     // a: trigger embedding's c component relative to the rest of its row
  uint64_t seed = 0;                // which channels

  bool any() const { return (channels > 0 && scale != 1.f) || !massive_tokens.empty(); }
  // Throws duq::Error when the spec does not fit the config (ids outside the vocabulary, too many channels,
  // non-positive scales).
  void validate(const ModelConfig& c) const;
  // One line, e.g. "normal 8 ch ×20 (γ 0), massive tokens 1,13,29 ×300 (residual ch 1234)".
  std::string describe() const;
};

// Where the outliers went (for tests and reports).
struct OutlierPlan {
  std::vector<int> residual_channels;  // normal outliers at AttnIn / FfnIn (sorted)
  std::vector<int> v_rows;             // W_v rows scaled (AttnOut channels of KV head layout, sorted)
  std::vector<int> hidden_channels;    // W_up rows scaled (DownIn, sorted, excludes every h*)
  int massive_channel = -1;            // c (−1 without massive outliers)
  std::vector<int> massive_hidden;     // h* per layer
  double gate_value = 0;               // G
  double median_act = 0;               // m (Monte Carlo estimate)
  double xi = 0;                       // ξ at layer 0 (mean over trigger tokens)
};

// Modifies w in place. Deterministic for (spec, config); independent of the weights' values except where
// documented (trigger embedding norms).
OutlierPlan plant_outliers(const ModelConfig& c, ModelWeights& w, const OutlierSpec& spec);

// Random-token windows for calibration / evaluation of a planted model: `count` windows of `length` tokens,
// each starting with `bos`; every later position is a trigger id (uniform among `triggers`) with probability
// `rate`, else a uniform non-trigger id from [0, vocab) other than bos. Deterministic for the seed.
std::vector<std::vector<int>> trigger_windows(int count, int length, int vocab, int bos,
                                              const std::vector<int>& triggers, double rate, uint64_t seed);

// "1,13,29" → {1, 13, 29}; throws duq::Error on anything else.
std::vector<int> parse_id_list(const std::string& text, const std::string& what);

}  // namespace duq::model
