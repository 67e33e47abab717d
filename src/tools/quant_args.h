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
  // Whether --nsamples / --calib-ctx were given (set by add's options once parsed).
  bool nsamples_given() const { return nsamples_opt_ && nsamples_opt_->count() > 0; }
  bool calib_ctx_given() const { return calib_ctx_opt_ && calib_ctx_opt_->count() > 0; }

 private:
  CLI::Option* nsamples_opt_ = nullptr;
  CLI::Option* calib_ctx_opt_ = nullptr;
};

// Without --nsamples and --calib-ctx, and a text too short for the defaults (128 × 2048 tokens, the DuQuant
// paper's; a 7B model's 2048-token context asks for 262k tokens, the bundled calib.txt holds ~100k LLaMA
// tokens): 32 windows of min(512, context) tokens, fewer where the text is shorter (at least one whole window).
inline constexpr int kFallbackWindows = 32;
inline constexpr int kFallbackContext = 512;

// The window count and length to draw from a text of `tokens` tokens: o's when the text holds them; else an
// option the user left at its default gives way (the count when --calib-ctx was given, the length when
// --nsamples was, kFallbackWindows × kFallbackContext when neither), with a note on stderr. Throws duq::Error
// saying exactly what to pass when both were given or nothing fits. `source` names the text.
std::pair<int, int> fit_calibration(int64_t tokens, int nsamples, int calib_ctx, bool nsamples_given,
                                    bool calib_ctx_given, const std::string& source);

// Calibration windows from the --calib text (BOS once, then random windows); o.nsamples / o.calib_ctx become
// what was drawn (fit_calibration).
std::vector<std::vector<int>> calibration_windows(const QuantArgs& a, calib::QuantOptions& o,
                                                  const model::Tokenizer& tok);

// calib::parse_method with the error naming `flag` ("--methods: unknown method 'x' (choose from ...)").
calib::Method parse_method_option(const std::string& name, const std::string& flag);

// "W4A4" → (4, 4); "W4A16" → weight-only. Throws naming `what` (the option) on anything else.
std::pair<int, int> parse_bits(const std::string& s, const std::string& what);

// Upper bounds of window counts and context lengths on the command line (far above any real model).
inline constexpr int kMaxWindows = 1 << 20;
inline constexpr int kMaxContext = 1 << 20;

}  // namespace duq::tools
