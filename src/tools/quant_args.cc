#include "tools/quant_args.h"

#include <regex>

#include "calib/calib_data.h"
#include "core/error.h"
#include "tools/model_args.h"

namespace duq::tools {

void QuantArgs::add(CLI::App& app, bool calib_required) {
  auto* c = app.add_option("--calib", calib_file, "calibration text file (random windows are drawn from it)");
  if (calib_required) c->required();
  app.add_option("--nsamples", o.nsamples, "calibration windows")->capture_default_str();
  app.add_option("--calib-ctx", o.calib_ctx, "tokens per calibration window (clamped to the model's context)")
      ->capture_default_str();
  app.add_option("--calib-seed", o.calib_seed, "seed of the window draw")->capture_default_str();
  app.add_option("--kv-bits", o.kv_bits, "bits of K and V per head and token (default: --abits)");
  app.add_option("--lac", o.lac, "activation clip ratio (per token; also Q/K unless --qk-clip)")->capture_default_str();
  app.add_option("--swc", o.swc, "weight clip ratio (per output channel)")->capture_default_str();
  app.add_option("--qk-clip", o.qk_clip, "clip ratio of Q and K (default: --lac)");
  app.add_option("--alpha", o.alpha, "smoothing strength (default 0.6 for duquant, 0.5 for smoothquant)");
  app.add_option("--block", o.block, "rotation block size (default 128, clamped to each input's width)");
  app.add_option("--steps", o.steps, "greedy rotation steps")->capture_default_str();
  app.add_option("--rounds", o.rounds, "permutation rounds (rotations = rounds + 1)")->capture_default_str();
  app.add_flag("!--no-smooth", o.smooth, "DuQuant without smoothing");
  app.add_flag("!--no-permute", o.permute, "DuQuant with one rotation and no permutation");
  app.add_option("--variant", variant,
                 "greedy search: reference (the authors' code: one rotation shared by all blocks) or paper (the "
                 "paper's rule, one rotation per block)")
      ->check(CLI::IsMember({"reference", "paper"}))
      ->capture_default_str();
  app.add_option("--qk-hadamard", qk_hadamard, "Hadamard over head_dim on Q/K: 1 on, 0 off (default: on for rotation/duquant)");
  app.add_option("--seed", o.seed, "seed of the random draws in the search / randomized Hadamard's signs")->capture_default_str();
  app.add_option("--group-size", o.group_size,
                 "weight group size (0 = per channel); per-OC groups run along the input, AdaDim's per-IC groups "
                 "along the output channels")
      ->capture_default_str();
  app.add_option("--gptq-damp", o.gptq_damp, "GPTQ damping, as a fraction of the mean Hessian diagonal")
      ->capture_default_str();
  app.add_option("--gptq-block", o.gptq_block, "GPTQ lazy-update block (columns)")->capture_default_str();
  app.add_flag("--act-order", o.act_order, "GPTQ: quantize columns in order of decreasing Hessian diagonal");
  app.add_flag("--adadim-per-linear", o.adadim_per_linear,
               "AdaDim: choose per-IC / per-OC per linear by its output error (GPTQ: 2-fold cross-validated) instead "
               "of the official per-module choice (attention / MLP output error with RTN, then GPTQ with act-order)");
  app.add_option("--lwc-epochs", o.lwc_epochs, "LWC epochs over the calibration windows (duquant+lwc)")
      ->capture_default_str();
  app.add_option("--lwc-lr", o.lwc_lr, "LWC AdamW learning rate (no weight decay)")->capture_default_str();
  app.add_option("--auto-rows", o.auto_rows,
                 "duquant-auto: calibration rows (whole windows, evenly spaced) each input's choice is evaluated on")
      ->capture_default_str();
  app.add_flag("!--auto-no-gptq", o.auto_gptq,
               "duquant-auto: round the chosen grids to nearest only (default: GPTQ where it lowers the layer's error)");
  app.add_flag("--quiet", [this](int64_t) { o.progress = false; }, "no progress lines");
}

calib::QuantOptions QuantArgs::resolve(const CLI::App& app, int model_max_seq) const {
  calib::QuantOptions r = o;
  r.variant = variant == "paper" ? transform::SearchVariant::kPaper : transform::SearchVariant::kReference;
  r.block_explicit = app.count("--block") > 0;
  r.qk_hadamard = qk_hadamard;
  if (r.calib_ctx > model_max_seq) {
    if (app.count("--calib-ctx"))
      fail("--calib-ctx ", r.calib_ctx, " exceeds the model's maximum context of ", model_max_seq);
    r.calib_ctx = model_max_seq;
  }
  r.validate();
  return r;
}

std::vector<std::vector<int>> calibration_windows(const QuantArgs& a, const calib::QuantOptions& o,
                                                  const model::Tokenizer& tok) {
  const std::string text = read_text_file(a.calib_file);
  std::vector<int> toks = tok.encode(text, /*bos=*/true, /*eos=*/false);
  return calib::sample_windows(toks, o.nsamples, o.calib_ctx, o.calib_seed, a.calib_file);
}

std::pair<int, int> parse_bits(const std::string& s) {
  static const std::regex re("[Ww]([0-9]+)[Aa]([0-9]+)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) fail("bad bit setting '", s, "' (expected e.g. W4A4, W4A8, W6A6, W8A8, W4A16)");
  return {std::stoi(m[1]), std::stoi(m[2])};
}

}  // namespace duq::tools
