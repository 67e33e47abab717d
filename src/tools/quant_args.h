// The quantization flags shared by `quantize`, `compare` (and later `inspect`): method settings,
// calibration data. Parsed into calib::QuantOptions.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "calib/options.h"
#include "model/tokenizer.h"

namespace duq::tools {

struct QuantArgs {
  calib::QuantOptions o;
  std::string calib_file;
  std::string variant = "reference";
  int qk_hadamard = -1;
  // Adds every flag except --method/--wbits/--abits (commands differ there).
  void add(CLI::App& app, bool calib_required = true);
  // Final options: variant, explicit block, context clamp to the model.
  calib::QuantOptions resolve(const CLI::App& app, int model_max_seq) const;
};

// Calibration windows from the --calib text (BOS once, then random windows).
std::vector<std::vector<int>> calibration_windows(const QuantArgs& a, const calib::QuantOptions& o,
                                                  const model::Tokenizer& tok);

// calib::parse_method with the error naming `flag` ("--methods: unknown method 'x' (choose from ...)").
calib::Method parse_method_option(const std::string& name, const std::string& flag);

// "W4A4" → (4, 4); "W4A16" → weight-only. Throws naming `what` (the option) on anything else.
std::pair<int, int> parse_bits(const std::string& s, const std::string& what);

// Upper bounds of window counts and context lengths on the command line (far above any real model).
inline constexpr int kMaxWindows = 1 << 20;
inline constexpr int kMaxContext = 1 << 20;

}  // namespace duq::tools
