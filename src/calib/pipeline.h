// The block-by-block quantization pipeline (spec §2, §4), for every method:
//   for each block l, in model order, with only block l's weights in memory:
//     1. FP statistics: the calibration windows, propagated through the float model, give the per-channel
//        max |x| at each of the block's four linear inputs (for smoothing);
//     2. smoothing (SmoothQuant, DuQuant): s from those maxima and the weights, folded into norms/weights;
//     3. the search sequence (the mean of the calibration windows' embeddings, propagated through the
//        already-quantized blocks) runs through the block in stages: at each linear input in turn the
//        transform is searched on the input it actually sees (upstream weights and activations already
//        quantized), folded into the consumer weights (W·G⁻ᵀ) and the weights rounded before the next
//        stage's forward runs to the next input; then the finished block gives the next block's sequence.
//     4. training with the block's transforms fixed (LWC, learned rotations, norm tweaking);
//     5. the calibration windows through the finished quantized block: the next block's inputs.
//   The result runs through SimQuantHooks (simulated quantization) and keeps the integer weight codes
//   for packing. What each step does depends on the method's transform × rounding (calib/method.h); the
//   steps live in their own files: smoothing_fold (2), block_calibrator + site_search + weight_rounding +
//   auto_site (3), block_training (4), with the per-block state they share in block_state.h.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "calib/layer_codes.h"
#include "calib/options.h"
#include "calib/sim_quant.h"
#include "calib/site_report.h"
#include "model/forward.h"
#include "model/weights.h"
#include "quant/uniform.h"

namespace duq::calib {

// Wall time of the pipeline's stages, summed over the blocks (seconds): reading and converting each block's
// weights from the source, the FP statistics forward, the transform search (the search sequence's forward
// with every site's search, folding and activation quantization), weight rounding (RTN/GPTQ/AdaDim/LWC and
// duquant-auto's candidate evaluation), propagating the calibration windows through the quantized block, and
// (quantize_to_file_data) packing each finished block for the file.
struct StageTimes {
  double load = 0, statistics = 0, search = 0, weights = 0, propagate = 0, pack = 0;
};

struct QuantizedModel {
  model::ModelConfig cfg;
  QuantOptions opts;
  // weights = dequantized W·G⁻ᵀ (or float for fp / W16); null when the blocks went to a BlockSink.
  std::unique_ptr<model::Model> model;
  std::unique_ptr<SimQuantHooks> hooks;  // null for the float model
  std::vector<LayerCodes> codes;         // [n_layers] when weights are quantized (empty with a BlockSink)
  std::vector<std::array<SiteReport, model::kNumSites>> report;  // [n_layers]
  double calib_seconds = 0;
  StageTimes stages;
  // Weight rounding summary: AdaDim's choices (linears given per-IC groups / all), LWC's block losses summed
  // over the blocks (mean window loss of the first and of the last epoch).
  int adadim_per_ic = 0, adadim_linears = 0;
  double lwc_loss_first = 0, lwc_loss_last = 0;
  double norm_tweak_loss_before = 0, norm_tweak_loss_after = 0;  // --norm-tweak: block losses summed over the blocks
  int auto_gptq_rows = 0, auto_rows = 0;  // duquant-auto: weight rows rounded by GPTQ / all quantized rows

  // logits [T×V] with simulated quantization.
  Mat forward(std::span<const int> tokens, int pos0, model::KVCache& cache, bool last_only = false) const;
  // Several sequences' chunks in one pass (model::Model::forward_batch) with the same hooks.
  Mat forward_batch(std::span<const model::SeqChunk> chunks) const;
};

// Receives each finished block as soon as it is done: its folded norms and dequantized weights, its integer
// codes and its site transforms (final). With a sink the pipeline keeps no block after handing it over (the
// QuantizedModel then has no `model` and no `codes`, and its reports keep the per-channel pictures only, not
// the [T×H] down-projection inputs), so memory stays at one block however many the model has (issue 15: a
// 7B model's 32 blocks in f32 would hold ~26 GB).
using BlockSink =
    std::function<void(int layer, model::LayerWeights&& w, LayerCodes&& codes, const SiteTransforms& sites)>;

// Quantizes the model from `src` with `opts` on calibration windows (token ids, equal lengths). Blocks go to
// `sink` when one is given, else they stay in the result's `model` and `codes`.
QuantizedModel quantize_model(const model::WeightSource& src, const std::vector<std::vector<int>>& windows,
                              const QuantOptions& opts, const BlockSink& sink = {});

// The float model wrapped as a QuantizedModel (method fp).
QuantizedModel float_model(const model::WeightSource& src);

}  // namespace duq::calib
