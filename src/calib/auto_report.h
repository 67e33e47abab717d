// What duquant-auto chose, as a table for the terminal: per layer, each linear input's transform and
// activation clip, the layer's Q/K clip, and the mean / minimum of the per-row weight clips.
#pragma once
#include <string>

#include "calib/pipeline.h"

namespace duq::calib {

// One line per layer plus a header and a totals line ("transforms: duquant 12, rotation 5, ...").
// Empty when the model was not quantized by duquant-auto.
std::string auto_choices_table(const QuantizedModel& qm);

}  // namespace duq::calib
