#include "calib/calib_data.h"

#include <string>

#include "core/error.h"
#include "core/rng.h"

namespace duq::calib {

std::vector<std::vector<int>> sample_windows(std::span<const int> tokens, int count, int length, uint64_t seed,
                                             const std::string& source) {
  if (count < 1 || length < 2) fail("calibration needs at least one window of 2 tokens");
  // Random windows may overlap, but a text that could not fill the requested windows even without
  // overlap is too short for what was asked: say so rather than reuse the same tokens many times.
  if (static_cast<long>(tokens.size()) < static_cast<long>(count) * length)
    fail(source, ": calibration text has ", tokens.size(), " tokens, fewer than the ", count, " × ", length,
         " requested (--nsamples × --calib-ctx); use a longer text or ask for less");
  Rng rng(seed);
  const uint64_t starts = tokens.size() - static_cast<size_t>(length) + 1;
  std::vector<std::vector<int>> out;
  for (int i = 0; i < count; ++i) {
    const size_t s = rng.below(starts);
    out.emplace_back(tokens.begin() + static_cast<long>(s), tokens.begin() + static_cast<long>(s) + length);
  }
  return out;
}

}  // namespace duq::calib
