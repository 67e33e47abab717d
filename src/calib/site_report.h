// What calibration saw at one linear input, for the reports and `duquant inspect`: per-channel max |x| of the
// search sequence [T×D] at each stage of the site's transform, and the relative output error of the site's
// quantized consumers on that input.
#pragma once
#include <string>
#include <vector>

#include "calib/site_transform.h"
#include "core/tensor.h"
#include "model/forward.h"

namespace duq::calib {

// Stages that the method lacks are left empty.
struct SiteReport {
  std::vector<float> absmax_fp;      // FP model over all calibration windows, before smoothing (if collected)
  std::vector<float> absmax_raw;     // search input before smoothing (x·Λ undone), after upstream quantization
  std::vector<float> absmax_before;  // search input after smoothing = the input of the rotation search
  std::vector<float> absmax_rot1;    // after R₁ (DuQuant) or the randomized Hadamard (rotation)
  std::vector<float> absmax_perm;    // after R₁·P (DuQuant with permutation)
  std::vector<float> absmax_after;   // after the whole G, before activation quantization
  Mat abs_before, abs_after;         // |x| [T×D] before / after G — kept for the down-projection input only
  double output_rel_error = 0;  // ‖Q(xG)·Q(WG⁻ᵀ)ᵀ − x·Wᵀ‖ / ‖x·Wᵀ‖ over the site's consumers
  // The same per token, then RMS over tokens: √(mean_t ‖ŷ_t − y_t‖² / ‖y_t‖²). Every token counts alike (as
  // the next RMSNorm sees them); the Frobenius ratio above is dominated by a few massive-outlier tokens.
  double output_token_rel_error = 0;
  // duquant-auto: each candidate transform's relative output error on the calibration rows at its best
  // activation clip (name, error, clip), in the order tried.
  struct AutoCandidateError {
    std::string name;
    double rel_error = 0;
    float act_clip = 1.f;
  };
  std::vector<AutoCandidateError> auto_candidates;
};

// Per-column max |x| of x [T×D]: [D].
std::vector<float> column_absmax(ConstMatView x);

// The absmax pictures after each stage of st on the (smoothed) search input xin [T×D] (and, at the
// down-projection input, |x| before / after G).
void record_stages(model::Site site, ConstMatView xin, const SiteTransform& st, SiteReport& rep);

// The output errors of the site's consumers: ref[i] = x_float·W_iᵀ [T×O_i] (before anything was quantized),
// x_q [T×D] the input as the consumers now see it (transformed and quantized), consumers the quantized W·G⁻ᵀ.
void record_output_error(ConstMatView x_q, const std::vector<Mat*>& consumers, const std::vector<Mat>& ref,
                         SiteReport& rep);

}  // namespace duq::calib
