// Calibration windows: random contiguous slices of a tokenized text (as GPTQ / DuQuant sample
// WikiText-2 train): window i starts at a uniform position in [0, N − L] drawn from the seed.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace duq::calib {

// tokens: the whole calibration text tokenized (BOS once at the start). Throws duq::Error naming
// `source` when the text has fewer than count × length tokens.
std::vector<std::vector<int>> sample_windows(std::span<const int> tokens, int count, int length, uint64_t seed,
                                             const std::string& source);

}  // namespace duq::calib
