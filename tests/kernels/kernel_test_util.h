// Helpers shared by the kernel tests: every ISA path this CPU has, and an RAII override.
#pragma once
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "kernels/cpu_features.h"

namespace duq::test {

inline std::vector<kernels::Isa> available_isas() {
  std::vector<kernels::Isa> out;
  for (auto isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512Vnni})
    if (kernels::isa_supported(isa)) out.push_back(isa);
  return out;
}

struct IsaScope {
  explicit IsaScope(kernels::Isa isa) { kernels::set_isa_override(isa); }
  ~IsaScope() { kernels::clear_isa_override(); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

// Gaussian matrix with a few large outliers per row (activation-like).
inline Mat random_mat(Rng& rng, int64_t rows, int64_t cols, float scale = 1.f, bool outliers = true) {
  Mat m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = static_cast<float>(rng.normal()) * scale;
  if (outliers)
    for (int64_t i = 0; i < rows; ++i) m(i, static_cast<int64_t>(rng.below(static_cast<uint64_t>(cols)))) *= 20.f;
  return m;
}

}  // namespace duq::test
