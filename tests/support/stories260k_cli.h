// The bundled stories260K model, its calibration and evaluation texts, and the duquant executable: what the
// CLI tests that quantize it share. ok() is false when the assets are absent (the test then skips).
#pragma once
#include <filesystem>
#include <string>

#include "test_support.h"

namespace duq::test {

struct Stories260KCli {
  std::filesystem::path a = assets_dir();
  std::string model = (a / "models/stories260K/stories260K.bin").string();
  std::string calib = (a / "text/tinystories/calib.txt").string();
  std::string eval = (a / "text/tinystories/eval.txt").string();
  std::string cli = cli_path().string();
  bool ok() const { return std::filesystem::exists(model); }
};

}  // namespace duq::test
