// AdaDim (Heo et al., "Rethinking Channel Dimensions to Isolate Outliers for Low-bit Weight Quantization of
// Large Language Models", arXiv 2309.15531): weight-only quantization whose groups may run along the INPUT
// channel (per-IC: one grid per input channel and g output channels, Axis::kColumn) instead of the output
// channel (per-OC, Axis::kRow). An input channel that carries activation outliers is amplified in every
// output, and its weights are often large too: per-IC groups isolate it in its own grid. The choice is
// made per layer, by whichever gives the lower output reconstruction error on the calibration inputs
// (½·tr(ΔW·H·ΔWᵀ) with the layer's Hessian), with RTN or with GPTQ rounding.
#pragma once
#include <array>

#include "quant/gptq.h"

namespace duq::quant {

struct AdaDimResult {
  QuantizedMat q;       // the chosen quantization (q.spec.axis says which)
  double error_oc = 0;  // output error of per-OC (kRow) groups
  double error_ic = 0;  // output error of per-IC (kColumn) groups
};

// spec.group_size applies along whichever axis is tried (0 = the whole row / column); spec.axis is ignored.
// gptq: GPTQ rounding (with opts) for both candidates, else round-to-nearest.
// folds (GPTQ only): two Hessians of disjoint halves of the calibration rows whose merge is h. The choice is
// then made by 2-fold cross-validation — GPTQ fitted on one half, its output error measured on the other,
// summed over both ways — because GPTQ minimises exactly the in-sample error, and the more flexible per-IC
// grids (taken from columns already updated by GPTQ) look better in-sample than they generalise. The
// returned codes are GPTQ on the full h. error_oc / error_ic are then the cross-validated errors.
AdaDimResult adadim_quantize(ConstMatView w, const Hessian& h, const QuantSpec& spec, bool gptq,
                             const GptqOptions& opts = {}, const std::array<const Hessian*, 2>* folds = nullptr);

}  // namespace duq::quant
