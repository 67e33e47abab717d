#include "tools/quant_args.h"

#include <algorithm>
#include <cstdio>
#include <regex>
#include <tuple>

#include "calib/calib_data.h"
#include "core/error.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"

namespace duq::tools {

namespace {
const CLI::Validator kSeed = RangeU64(0, UINT64_MAX);
const CLI::Validator kBits = OneOf({2, 3, 4, 5, 6, 7, 8, 16});
const CLI::Validator kClip = RangeOpenLow(0.0, 1.0);
}  // namespace

void QuantArgs::add(CLI::App& app, bool calib_required) {
  auto* c = app.add_option("--calib", calib_file, "calibration text file (random windows are drawn from it)");
  if (calib_required) c->required();
  nsamples_opt_ = app.add_option("--nsamples", o.nsamples,
                                 "calibration windows (without --nsamples and --calib-ctx, on a text too short "
                                 "for the defaults: 32 windows of 512 tokens, fewer if the text is shorter)")
                      ->capture_default_str()
                      ->check(Range(1, kMaxWindows));
  calib_ctx_opt_ =
      app.add_option("--calib-ctx", o.calib_ctx, "tokens per calibration window (clamped to the model's context)")
          ->capture_default_str()
          ->check(Range(2, kMaxContext));
  app.add_option("--calib-seed", o.calib_seed, "seed of the window draw")->capture_default_str()->check(kSeed);
  app.add_option("--kv-bits", o.kv_bits, "bits of K and V per head and token (default: --abits)")->check(kBits);
  app.add_option("--lac", o.lac, "activation clip ratio (per token; also Q/K unless --qk-clip)")
      ->capture_default_str()
      ->check(kClip);
  app.add_option("--swc", o.swc, "weight clip ratio (per output channel)")->capture_default_str()->check(kClip);
  app.add_option("--qk-clip", o.qk_clip, "clip ratio of Q and K (default: --lac)")->check(kClip);
  app.add_option("--alpha", o.alpha, "smoothing strength (default 0.6 for duquant, 0.5 for smoothquant)")
      ->check(Range(0.0, 1.0));
  app.add_option("--block", o.block, "rotation block size (default 128, clamped to each input's width)")
      ->check(Range(1, 1 << 16));
  app.add_option("--steps", o.steps, "greedy rotation steps")->capture_default_str()->check(Range(0, 1 << 20));
  app.add_option("--rounds", o.rounds, "permutation rounds (rotations = rounds + 1)")
      ->capture_default_str()
      ->check(Range(0, 64));
  app.add_flag("!--no-smooth", o.smooth, "DuQuant without smoothing");
  app.add_flag("!--no-permute", o.permute, "DuQuant with one rotation and no permutation");
  app.add_option("--variant", variant,
                 "greedy search: reference (the authors' code: one rotation shared by all blocks) or paper (the "
                 "paper's rule, one rotation per block)")
      ->check(CLI::IsMember({"reference", "paper"}))
      ->capture_default_str();
  app.add_option("--qk-hadamard", qk_hadamard,
                 "Hadamard over head_dim on Q/K: 1 on, 0 off (default: on for rotation/duquant)")
      ->check(OneOf({0, 1}));
  app.add_option("--seed", o.seed, "seed of the random draws in the search / randomized Hadamard's signs")
      ->capture_default_str()
      ->check(kSeed);
  app.add_option("--group-size", o.group_size,
                 "weight group size (0 = per channel); per-OC groups run along the input, AdaDim's per-IC groups "
                 "along the output channels")
      ->capture_default_str()
      ->check(Range(0, 1 << 20));
  app.add_option("--gptq-damp", o.gptq_damp, "GPTQ damping, as a fraction of the mean Hessian diagonal")
      ->capture_default_str()
      ->check(RangeOpenLow(0.0, 100.0));
  app.add_option("--gptq-block", o.gptq_block, "GPTQ lazy-update block (columns)")
      ->capture_default_str()
      ->check(Range(1, 1 << 16));
  app.add_flag("--act-order", o.act_order, "GPTQ: quantize columns in order of decreasing Hessian diagonal");
  app.add_flag("--adadim-per-linear", o.adadim_per_linear,
               "AdaDim: choose per-IC / per-OC per linear by its output error (GPTQ: 2-fold cross-validated) instead "
               "of the official per-module choice (attention / MLP output error with RTN, then GPTQ with act-order)");
  app.add_option("--lwc-epochs", o.lwc_epochs, "LWC epochs over the calibration windows (duquant+lwc)")
      ->capture_default_str()
      ->check(Range(0, 10000));
  app.add_option("--lwc-lr", o.lwc_lr, "LWC AdamW learning rate (no weight decay)")
      ->capture_default_str()
      ->check(RangeOpenLow(0.0, 10.0));
  app.add_option("--learn-angle", o.learn_angle,
                 "duquant+learn: first Cayley step of the learned rotations, decaying linearly to 0 over the "
                 "--lwc-epochs (0-1]")
      ->capture_default_str()
      ->check(RangeOpenLow(0.0, 1.0));
  app.add_flag(
      "--norm-tweak", o.norm_tweak,
      "after each block is quantized, train its two RMSNorm weights (relative change, Adam) on the block's "
      "output error over the calibration windows; kept only where that error drops (any method; no run-time cost)");
  app.add_option("--norm-tweak-epochs", o.norm_tweak_epochs,
                 "norm tweaking epochs over the calibration windows (0-10000)")
      ->capture_default_str()
      ->check(Range(0, 10000));
  app.add_option("--norm-tweak-lr", o.norm_tweak_lr, "norm tweaking Adam learning rate on the relative change (0-10]")
      ->capture_default_str()
      ->check(RangeOpenLow(0.0, 10.0));
  app.add_option("--wide-channels", o.wide_channels,
                 "per linear input, keep the K channels of the transformed input with the largest calibration "
                 "magnitude at 8 bits (activations and weight columns; QUIK's outlier channels); the integer engine "
                 "adds a narrow W8A8 GEMM over them (0 = none)")
      ->capture_default_str()
      ->check(Range(0, 1 << 16));
  app.add_flag("--k-center", o.k_center,
               "subtract each layer's calibration mean of K (after RoPE) from every key before K is quantized: "
               "exact (softmax ignores a shift common to a query's logits), one subtraction per key at run time");
  app.add_option("--auto-rows", o.auto_rows,
                 "duquant-auto: calibration rows (whole windows, evenly spaced) each input's choice is evaluated on")
      ->capture_default_str()
      ->check(Range(1, 1 << 24));
  app.add_flag(
      "!--auto-no-gptq", o.auto_gptq,
      "duquant-auto: round the chosen grids to nearest only (default: GPTQ where it lowers the layer's error)");
  app.add_flag(
      "--quiet", [this](int64_t) { o.progress = false; }, "no progress lines");
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

std::pair<int, int> fit_calibration(int64_t tokens, int nsamples, int calib_ctx, bool nsamples_given,
                                    bool calib_ctx_given, const std::string& source) {
  if (tokens >= static_cast<int64_t>(nsamples) * calib_ctx) return {nsamples, calib_ctx};
  const std::string has = source + ": calibration text has " + std::to_string(tokens) + " tokens, fewer than ";
  int n = nsamples, len = calib_ctx;
  if (nsamples_given && calib_ctx_given) {
    std::string hint;
    if (tokens / calib_ctx >= 1)
      hint +=
          "--nsamples " + std::to_string(tokens / calib_ctx) + " (at --calib-ctx " + std::to_string(calib_ctx) + ")";
    if (tokens / nsamples >= 2)
      hint += std::string(hint.empty() ? "" : " or ") + "--calib-ctx " + std::to_string(tokens / nsamples) +
              " (at --nsamples " + std::to_string(nsamples) + ")";
    fail(has, nsamples, " × ", calib_ctx, " requested (--nsamples × --calib-ctx); pass ",
         hint.empty() ? std::string("a longer text") : hint);
  } else if (calib_ctx_given) {
    n = static_cast<int>(tokens / calib_ctx);
    if (n < 1)
      fail(has, "one window of --calib-ctx ", calib_ctx, "; pass --calib-ctx ", std::max<int64_t>(2, tokens),
           " or a longer text");
  } else if (nsamples_given) {
    len = static_cast<int>(std::min<int64_t>(calib_ctx, tokens / nsamples));
    if (len < 2)
      fail(has, nsamples, " windows of 2 tokens (--nsamples ", nsamples, "); pass --nsamples ",
           std::max<int64_t>(1, tokens / 2), " or a longer text");
  } else {
    len = std::min(calib_ctx, kFallbackContext);
    n = static_cast<int>(std::min<int64_t>(kFallbackWindows, tokens / len));
    // Not one whole window: too short to calibrate on by default (say what would run, if anything can).
    if (n < 1)
      fail(has, "one window of ", len, " tokens; use a longer text",
           tokens >= 2 ? " or pass --nsamples 1 --calib-ctx " + std::to_string(tokens) : std::string());
  }
  std::fprintf(stderr, "note: %s%d × %d (--nsamples × --calib-ctx); calibrating on %d × %d tokens instead\n",
               has.c_str(), nsamples, calib_ctx, n, len);
  return {n, len};
}

std::vector<std::vector<int>> calibration_windows(const QuantArgs& a, calib::QuantOptions& o,
                                                  const model::Tokenizer& tok) {
  const std::string text = read_text_file(a.calib_file);
  std::vector<int> toks = tok.encode(text, /*bos=*/true, /*eos=*/false);
  std::tie(o.nsamples, o.calib_ctx) = fit_calibration(static_cast<int64_t>(toks.size()), o.nsamples, o.calib_ctx,
                                                      a.nsamples_given(), a.calib_ctx_given(), a.calib_file);
  return calib::sample_windows(toks, o.nsamples, o.calib_ctx, o.calib_seed, a.calib_file);
}

calib::Method parse_method_option(const std::string& name, const std::string& flag) {
  try {
    return calib::parse_method(name);
  } catch (const Error& e) {
    fail(flag, ": ", e.what());
  }
}

std::pair<int, int> parse_bits(const std::string& s, const std::string& what) {
  static const std::regex re("[Ww]([0-9]+)[Aa]([0-9]+)");
  std::smatch m;
  const std::string expected = " (expected W<2-8>A<2-8 or 16>, e.g. W4A4, W4A8, W6A6, W8A8, W4A16)";
  if (!std::regex_match(s, m, re)) fail(what, ": bad bit setting '", s, "'", expected);
  auto in = [](int64_t b, bool sixteen) { return (b >= 2 && b <= 8) || (sixteen && b == 16); };
  const auto w = strict_number<int64_t>(m[1].str()), a = strict_number<int64_t>(m[2].str());
  if (!w || !a || !in(*w, false) || !in(*a, true)) fail(what, ": bit setting '", s, "' is out of range", expected);
  return {static_cast<int>(*w), static_cast<int>(*a)};
}

}  // namespace duq::tools
