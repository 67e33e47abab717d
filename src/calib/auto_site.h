// duquant-auto inside the calibration forward of one block (Transform::Auto × Rounding::Auto): at each
// linear input the candidate transforms (none, DuQuant's smoothing, rotation, DuQuant) are evaluated on the
// calibration rows that reach it (calib/auto_select.h) and the winner installed, folded and rounded; at the
// attention, the layer's Q/K clip is chosen from the logits of the calibration windows.
#pragma once
#include "calib/block_state.h"

namespace duq::calib {

// Chooses the transform, activation clip and per-row weight clips (and RTN or GPTQ per row) of `site` on its
// calibration rows; x [T×D] is the search sequence's input there (the DuQuant candidate is searched on it).
// The winner goes into st; its consumers are folded, rounded and stored; rep gets each candidate's error.
void choose_auto_site(BlockState& b, model::Site site, ConstMatView x, SiteTransform& st, SiteReport& rep);

// This layer's Q/K clip from the logits of the calibration windows (the attention input already transformed
// and quantized as chosen), set in the runtime hooks.
void choose_auto_qk_clip(BlockState& b);

}  // namespace duq::calib
