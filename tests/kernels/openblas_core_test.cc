// kernels::openblas_core_to_request (gemm_f32.h): which OpenBLAS kernel set the CLI asks for at start.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"

namespace duq {
namespace {

// Restores OPENBLAS_CORETYPE as it was.
struct SavedCoreType {
  std::string value;
  bool had = false;
  SavedCoreType() {
    if (const char* v = std::getenv("OPENBLAS_CORETYPE")) value = v, had = true;
  }
  ~SavedCoreType() {
    if (had) setenv("OPENBLAS_CORETYPE", value.c_str(), 1);
    else unsetenv("OPENBLAS_CORETYPE");
  }
};

TEST(OpenBlasCore, AUsersCoreTypeIsLeftAlone) {
  SavedCoreType saved;
  setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  EXPECT_EQ(kernels::openblas_core_to_request(), nullptr);
}

// Without the variable: the SSE3 fallback (or anything below the ISA) gets the ISA's kernel set; a kernel set
// that matches the ISA is kept. Which case this machine is, OpenBLAS's own choice says.
TEST(OpenBlasCore, KernelsBelowTheIsaAreReplaced) {
  SavedCoreType saved;
  unsetenv("OPENBLAS_CORETYPE");
  const std::string core = kernels::openblas_core();
  const char* want = kernels::openblas_core_to_request();
  switch (kernels::active_isa()) {
    case kernels::Isa::Avx512Vnni:
      if (core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids") EXPECT_EQ(want, nullptr);
      else EXPECT_STREQ(want, "SkylakeX") << "OpenBLAS chose " << core;
      break;
    case kernels::Isa::Avx2:
      if (core == "Haswell" || core == "Zen" || core == "SkylakeX") EXPECT_EQ(want, nullptr);
      else EXPECT_STREQ(want, "Haswell") << "OpenBLAS chose " << core;
      break;
    default: EXPECT_EQ(want, nullptr) << "only x86 asks for a kernel set";
  }
}

}  // namespace
}  // namespace duq
