#include "calib/options.h"

#include <sstream>

#include "core/error.h"

namespace duq::calib {

namespace {
void check_bits(const char* what, int b) {
  if (b != kNoQuant && (b < 2 || b > 8)) fail(what, " must be between 2 and 8, or 16 for none (got ", b, ")");
}
void check_clip(const char* what, float c) {
  if (!(c > 0.f && c <= 1.f)) fail(what, " must be in (0, 1] (got ", c, ")");
}
}  // namespace

void QuantOptions::validate() const {
  check_bits("--wbits", wbits);
  check_bits("--abits", abits);
  check_bits("--kv-bits", kv());
  check_clip("--lac", lac);
  check_clip("--swc", swc);
  check_clip("--qk-clip", qk_clip_ratio());
  if (!(smoothing_alpha() >= 0.f && smoothing_alpha() <= 1.f)) fail("--alpha must be in [0, 1] (got ", alpha, ")");
  if (steps < 0) fail("--steps must be >= 0 (got ", steps, ")");
  if (block < 1) fail("--block must be >= 1 (got ", block, ")");
  if (rounds < 0) fail("--rounds must be >= 0 (got ", rounds, ")");
  if (nsamples < 1) fail("--nsamples must be >= 1 (got ", nsamples, ")");
  if (calib_ctx < 2) fail("--calib-ctx must be >= 2 (got ", calib_ctx, ")");
  if (group_size < 0) fail("--group-size must be >= 0 (got ", group_size, ")");
  if (!(gptq_damp >= 0)) fail("--gptq-damp must be >= 0 (got ", gptq_damp, ")");
  if (gptq_block < 1) fail("--gptq-block must be >= 1 (got ", gptq_block, ")");
  if (lwc_epochs < 0) fail("--lwc-epochs must be >= 0 (got ", lwc_epochs, ")");
  if (!(lwc_lr > 0)) fail("--lwc-lr must be > 0 (got ", lwc_lr, ")");
  if (!(learn_angle > 0 && learn_angle <= 1)) fail("--learn-angle must be in (0, 1] (got ", learn_angle, ")");
  if (uses_lwc() && group_size != 0)
    fail(method_name(method), " learns one clip per output row: --group-size must be 0");
  if (is_auto() && group_size != 0) fail("duquant-auto chooses one clip per output row: --group-size must be 0");
  if (norm_tweak_epochs < 0) fail("--norm-tweak-epochs must be >= 0 (got ", norm_tweak_epochs, ")");
  if (!(norm_tweak_lr > 0)) fail("--norm-tweak-lr must be > 0 (got ", norm_tweak_lr, ")");
  if (wide_channels < 0) fail("--wide-channels must be >= 0 (got ", wide_channels, ")");
  if (wide_channels > 0) {
    // The wide columns are taken out of the weights before the rounding and rounded apart (RTN at 8 bits).
    // Learned rotations would turn the channels the choice was made on; AdaDim's per-input-channel groups
    // have no per-row grid to hold the zero the wide columns need.
    if (learns_rotation() || uses_adadim())
      fail("--wide-channels is not combined with ", method_name(method),
           " yet; it works with rtn, smoothquant, rotation, duquant, their +gptq roundings, duquant+lwc, "
           "duquant-auto and --norm-tweak");
    if (group_size != 0) fail("--wide-channels needs per-output-channel weights: --group-size must be 0");
    if (abits == kNoQuant || wbits == kNoQuant)
      fail("--wide-channels keeps some channels at 8 bits: it needs quantized weights and activations");
  }
  if (k_center && kv() == kNoQuant) fail("--k-center needs a quantized K (--kv-bits, or --abits, below 16)");
  if (auto_rows < 1) fail("--auto-rows must be >= 1 (got ", auto_rows, ")");
}

std::string QuantOptions::describe() const {
  std::ostringstream os;
  os << method_name(method) << " W" << wbits << "A" << abits << " (kv " << kv();
  if (is_auto()) os << ", lac per input, swc per row and qk clip per layer chosen on the calibration data";
  else if (quarot_weight_grid())
    os << ", lac " << lac << ", weights symmetric, " << (group_size > 0 ? "clip 1" : "per-row MSE clip") << ", qk clip "
       << qk_clip_ratio();
  else os << ", lac " << lac << ", swc " << swc << ", qk clip " << qk_clip_ratio();
  if (uses_smoothing()) os << ", alpha " << smoothing_alpha();
  if (duquant_transform() || is_auto())
    os << ", block " << block << ", steps " << steps << ", rounds " << (permute ? rounds : 0)
       << (variant == transform::SearchVariant::kPaper ? ", paper variant" : "") << (smooth ? "" : ", no smoothing");
  if (duquant_transform() || rotation_transform() || is_auto()) os << ", seed " << seed;
  if (is_auto()) os << ", auto rows " << auto_rows << (auto_gptq ? ", gptq rounding" : ", rtn rounding");
  if (group_size > 0) os << ", group " << group_size;
  if (uses_adadim()) os << (adadim_per_linear ? ", adadim per linear" : ", adadim per module");
  if (uses_gptq())
    os << ", gptq damp " << gptq_damp << (act_order || (uses_adadim() && !adadim_per_linear) ? " act-order" : "");
  if (uses_lwc()) os << ", lwc " << lwc_epochs << " epochs lr " << lwc_lr;
  if (learns_rotation()) os << ", learned rotations angle " << learn_angle;
  if (wide_channels > 0) os << ", " << wide_channels << " wide channels";
  if (norm_tweak) os << ", norm tweak " << norm_tweak_epochs << " epochs lr " << norm_tweak_lr;
  os << (qk_rotate() ? ", qk hadamard" : "") << (k_center ? ", k centered" : "") << ")";
  return os.str();
}

}  // namespace duq::calib
