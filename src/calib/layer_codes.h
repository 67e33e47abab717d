// The integer codes of one block's seven linear weights, and which weights consume each linear input (site):
//   AttnIn → q, k, v   AttnOut → o   FfnIn → gate, up   DownIn → down
// in ModelWeights order, which is also block_grad.h's LinearIndex order (a site's consumers are contiguous
// there, starting at first_linear(site)).
#pragma once
#include <array>
#include <optional>
#include <vector>

#include "calib/block_grad.h"
#include "model/forward.h"
#include "model/weights.h"
#include "quant/uniform.h"

namespace duq::calib {

// Integer codes of a block's seven linear weights (after the transform), in ModelWeights order.
struct LayerCodes {
  std::optional<quant::QuantizedMat> wq, wk, wv, wo, w_gate, w_up, w_down;
  // duquant-auto: the weight clip ratio chosen for each output row, per linear in the same order (else empty).
  std::array<std::vector<float>, 7> row_clip;
  // --wide-channels: per linear (same order), the wide columns' codes [O×K] at kernels::kWideBits (else empty).
  std::array<std::optional<quant::QuantizedMat>, 7> wide;
};

// The weights [O×D_site] that consume a site's input, and their code slots, in ModelWeights order.
inline std::vector<Mat*> site_consumers(model::LayerWeights& w, model::Site s) {
  switch (s) {
    case model::Site::AttnIn: return {&w.wq, &w.wk, &w.wv};
    case model::Site::AttnOut: return {&w.wo};
    case model::Site::FfnIn: return {&w.w_gate, &w.w_up};
    case model::Site::DownIn: return {&w.w_down};
  }
  return {};
}
inline std::vector<std::optional<quant::QuantizedMat>*> site_code_slots(LayerCodes& c, model::Site s) {
  switch (s) {
    case model::Site::AttnIn: return {&c.wq, &c.wk, &c.wv};
    case model::Site::AttnOut: return {&c.wo};
    case model::Site::FfnIn: return {&c.w_gate, &c.w_up};
    case model::Site::DownIn: return {&c.w_down};
  }
  return {};
}

// The seven linears and their code slots in LinearIndex order.
inline std::array<Mat*, kNumLinears> block_linears(model::LayerWeights& w) {
  return {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
}
inline std::array<std::optional<quant::QuantizedMat>*, kNumLinears> block_linear_codes(LayerCodes& c) {
  return {&c.wq, &c.wk, &c.wv, &c.wo, &c.w_gate, &c.w_up, &c.w_down};
}

// Index of a site's first consumer in LinearIndex order.
inline int first_linear(model::Site s) {
  constexpr int first[model::kNumSites] = {kLinQ, kLinO, kLinGate, kLinDown};
  return first[static_cast<int>(s)];
}

}  // namespace duq::calib
