// --wide-channels K (QUIK's outlier channels, on top of any transform): per linear input, the K channels of
// the transformed input x·G with the largest calibration magnitude stay at kernels::kWideBits — their
// activations (per token, over those K channels alone) and the matching weight columns (per output row, RTN)
// — while the other channels keep the method's bits and rounding, their per-token activation range no longer
// stretched by the widest channels. The integer engine runs a site as its usual low-bit GEMM (the wide
// columns zero in those weights) plus a narrow W8A8 GEMM over the K columns (model/int_engine.cc).
//
// Per site, in calibrate_site: choose_wide_channels after the transform is folded into the consumers, then
// take_wide_columns before the method's rounding (the columns are zeroed, so every row's grid contains 0 —
// the zero point is a code — and GPTQ's Hessian drops them), then finish_wide_columns after it. Training
// after the block (block_training: LWC, norm tweaking) quantizes the split activations the same way
// (BlockQuantSpec::site_wide), LWC learns the clips of the low-bit part with the wide columns held fixed.
#pragma once
#include <cstdint>
#include <vector>

#include "calib/block_state.h"

namespace duq::calib {

// Throws duq::Error (naming the option, the layer and the input) when k ≥ width.
void check_wide_channels(int k, int64_t width, int layer, model::Site site);

// The k columns of x·G (x [T×D] the site's input, G = st) with the largest max |·| over the rows, sorted by
// index (ties: the lower index). Throws duq::Error when k ≥ D.
std::vector<int32_t> choose_wide_channels(ConstMatView x, const SiteTransform& st, int k, int layer, model::Site site);

// The wide columns of each consumer [O×K] (float W·G⁻ᵀ), in site_consumers order; zeroed in the consumers.
std::vector<Mat> take_wide_columns(const std::vector<Mat*>& consumers, const std::vector<int32_t>& wide);

// After the method's rounding: each consumer's codes in the wide columns set to its row's zero point (the
// rounding may have moved them, e.g. GPTQ), the held columns rounded per row at kWideBits (RTN, clip 1)
// into b.codes' wide slots, and the consumer weights set to what the engine multiplies: the dequantized
// low-bit codes plus the dequantized wide columns.
void finish_wide_columns(BlockState& b, model::Site site, const std::vector<int32_t>& wide,
                         const std::vector<Mat>& held);

// The k columns of xt [T×D] with the largest max |·|, sorted by index (ties: the lower index); k < D.
std::vector<int32_t> widest_columns(ConstMatView xt, int k);
// The held columns [O×K] rounded per row at kernels::kWideBits (RTN, clip 1).
quant::QuantizedMat quantize_wide_columns(ConstMatView held);
// q's codes in the wide columns set to each row's zero point (ŵ = 0; DUQ_CHECKed to be a code), then
// w [O×D] ← dequantized q with the dequantized wide_q [O×K] in the wide columns.
void apply_wide_codes(quant::QuantizedMat& q, const quant::QuantizedMat& wide_q, const std::vector<int32_t>& wide,
                      Mat& w);
// Linear `linear` (LinearIndex order) once its low-bit codes are (re)made, e.g. by LWC after training: codes in
// the wide columns set to the zero point, weights = dequantized codes + its 8-bit wide columns (b.codes.wide).
void apply_wide_codes(BlockState& b, int linear, const std::vector<int32_t>& wide);
// Its 8-bit wide columns, dequantized, as a dense [O×D] matrix (zero in the other columns).
Mat wide_columns_dense(const BlockState& b, int linear, const std::vector<int32_t>& wide);

}  // namespace duq::calib
