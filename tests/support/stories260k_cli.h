// The bundled stories260K model, its calibration and evaluation texts, and the duquant executable: what the
// CLI tests that quantize it share. ok() is false when the assets are absent (the test then skips).
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "model/quant_model.h"
#include "test_support.h"

namespace duq::test {

struct Stories260KCli {
  std::filesystem::path a = assets_dir();
  std::string model = (a / "models/stories260K/stories260K.bin").string();
  std::string calib = (a / "text/tinystories/calib.txt").string();
  std::string eval = (a / "text/tinystories/eval.txt").string();
  std::string cli = cli_path().string();
  bool ok() const { return std::filesystem::exists(model); }

  // `quantize` W4A4 on 8 × 128 calibration tokens with a short search (block 64, 64 steps), plus `flags`.
  CommandResult quantize(const std::string& flags, const std::filesystem::path& out) const {
    return run_command(cli + " quantize --model " + model + " --calib " + calib +
                       " --nsamples 8 --calib-ctx 128 --block 64 --steps 64 --quiet --wbits 4 --abits 4 " + flags +
                       " --out " + out.string());
  }
  // `ppl --json` of a file on the first 40 windows of eval.txt (ctx 512), plus `flags`.
  nlohmann::json ppl(const std::filesystem::path& f, const std::string& flags) const {
    auto r = run_command(cli + " ppl --model " + f.string() + " --text " + eval +
                         " --ctx 512 --max-windows 40 --json " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  // The integer engine against the file's simulation, within the DuQuant tolerances of quantize_model_test:
  // 0.5% with exact rotations, 4% with the default int16 ones — on 40 windows, not 12: W4A4 on a few windows is
  // chaotically sensitive to the ~1e-7 differences between the engine's fixed-order fp32 rotations and the
  // simulation's BLAS ones (duquant+gptq with 16 wide channels, seed 2: 1.5% on 4 windows, 0.97% on 12, 0.19% on
  // 40). Returns the simulated perplexity.
  double expect_engine_matches_simulation(const std::filesystem::path& f, const std::string& what) const {
    const auto exact = ppl(f, "--check-simulated --exact-rotations");
    EXPECT_LT(exact["relative_difference"].get<double>(), 0.005) << what << ": " << exact;
    const double sim = exact["ppl_simulated"].get<double>();
    const double int16 = ppl(f, "")["ppl"].get<double>();
    EXPECT_LT(std::abs(int16 - sim) / sim, 0.04) << what << ": " << int16 << " vs simulated " << sim;
    return sim;
  }
};

// The reader's error for a quantized-model file ("no error" when it loads).
inline std::string quant_model_read_error(const std::filesystem::path& p) {
  try {
    model::read_quant_model(p.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace duq::test
