#include "core/assets.h"

#include <cstdlib>

namespace duq {

std::filesystem::path assets_dir() {
  if (const char* env = std::getenv("DUQUANT_ASSETS"); env && *env) return env;
  return DUQ_DEFAULT_ASSETS;
}

}  // namespace duq
