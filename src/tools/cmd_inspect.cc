// duquant inspect: quantize a model and write one self-contained HTML report of what the transform does to
// the activations (per-channel max |x| at each stage, token × channel heat maps of the down-projection input),
// the per-layer quantization error of several methods and, with --compare, the perplexity / KL table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "calib/pipeline.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "eval/compare.h"
#include "eval/report_html.h"
#include "tools/commands.h"
#include "tools/model_args.h"
#include "tools/option_checks.h"
#include "tools/quant_args.h"

namespace duq::tools {
namespace {

using model::Site;

struct InspectOpts {
  ModelArgs m;
  QuantArgs q;
  std::string method = "duquant";
  std::string bits = "W4A4";
  std::string methods = "rtn,smoothquant,rotation,duquant";
  std::string layers;  // "0,2,5-7"; empty = all
  bool compare = false;
  std::string text;
  int ctx = 0, max_windows = 0;
  std::string out;
  std::string title = "DuQuant inspection";
  bool force = false;
};

// "0,2,5-7" → {0, 2, 5, 6, 7}; every entry must name a block.
std::vector<int> parse_layers(const std::string& spec, int n_layers) {
  std::vector<int> out;
  if (spec.empty()) {
    for (int l = 0; l < n_layers; ++l) out.push_back(l);
    return out;
  }
  for (const auto& item : split_list(spec)) {
    int a = 0, b = 0;
    char dash = 0;
    std::istringstream is(item);
    if (!(is >> a)) fail("--layers: bad entry '", item, "' (expected e.g. 0,2,5-7)");
    b = a;
    if (is >> dash) {
      if (dash != '-' || !(is >> b)) fail("--layers: bad entry '", item, "' (expected e.g. 0,2,5-7)");
    }
    if (a < 0 || b >= n_layers || a > b) fail("--layers: '", item, "' is outside the model's blocks 0–", n_layers - 1);
    for (int l = a; l <= b; ++l)
      if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
  std::sort(out.begin(), out.end());
  return out;
}

const char* site_title(Site s) {
  switch (s) {
    case Site::AttnIn: return "attention input";
    case Site::AttnOut: return "attention output";
    case Site::FfnIn: return "FFN input";
    case Site::DownIn: return "down-projection input";
  }
  return "?";
}
const char* site_consumers(Site s) {
  switch (s) {
    case Site::AttnIn: return "q, k, v";
    case Site::AttnOut: return "o";
    case Site::FfnIn: return "gate, up";
    case Site::DownIn: return "down";
  }
  return "?";
}

bool uses_smoothing(const calib::QuantOptions& o) {
  return o.method == calib::Method::SmoothQuant || (o.duquant_transform() && o.smooth);
}

std::string final_label(const calib::QuantOptions& o, const calib::SiteReport& rep) {
  if (o.rotation_transform()) return "after randomized Hadamard";
  if (rep.absmax_perm.empty()) return "after R₁ (final)";
  return o.rounds == 1 ? "after R₂ (final)" : "after the whole G (final)";
}

// The stage curves the method has, in transform order (stages it lacks are left out, not drawn twice).
eval::SiteStages site_stages(int layer, Site site, const calib::SiteReport& rep, const calib::QuantOptions& o,
                             int64_t tokens) {
  eval::SiteStages s;
  s.layer = layer;
  s.site = model::site_name(site);
  s.title = site_title(site);
  s.consumers = site_consumers(site);
  s.tokens = tokens;
  const bool smooth = uses_smoothing(o);
  if (!rep.absmax_fp.empty()) s.curves.push_back({"fp", "float model, all windows", rep.absmax_fp, true});
  s.curves.push_back({"raw", smooth ? "before smoothing" : "input", rep.absmax_raw, false});
  if (smooth) s.curves.push_back({"smoothed", "after smoothing", rep.absmax_before, false});
  if (o.duquant_transform() && !rep.absmax_perm.empty()) {
    s.curves.push_back({"rot1", "after R₁", rep.absmax_rot1, false});
    s.curves.push_back({"perm", "after R₁·P", rep.absmax_perm, false});
  }
  if (o.duquant_transform() || o.rotation_transform())
    s.curves.push_back({"after", final_label(o, rep), rep.absmax_after, false});
  if (o.is_auto()) s.curves.push_back({"after", "after the transform duquant-auto chose", rep.absmax_after, false});
  return s;
}

eval::HeatPanel panel(const std::string& key, const std::string& label, ConstMatView m) {
  eval::HeatPanel p;
  p.key = key;
  p.label = label;
  p.rows = m.rows;
  p.cols = m.cols;
  p.abs.resize(static_cast<size_t>(m.rows * m.cols));
  for (int64_t t = 0; t < m.rows; ++t)
    for (int64_t j = 0; j < m.cols; ++j) p.abs[static_cast<size_t>(t * m.cols + j)] = m(t, j);
  return p;
}

// Heat map panels of the down-projection input: as computed (before smoothing), after smoothing, after G.
eval::SiteHeat site_heat(int layer, const calib::SiteReport& rep, const calib::QuantOptions& o) {
  eval::SiteHeat h;
  h.layer = layer;
  const bool smooth = uses_smoothing(o);
  // The report keeps |x| after smoothing; the input before it is that times the per-channel factor, which
  // is the ratio of the recorded maxima (x·Λ⁻¹ scaled back by Λ).
  eval::HeatPanel raw = panel("raw", smooth ? "before smoothing" : "input", rep.abs_before);
  if (smooth && rep.absmax_raw.size() == static_cast<size_t>(raw.cols) &&
      rep.absmax_before.size() == rep.absmax_raw.size()) {
    for (int64_t j = 0; j < raw.cols; ++j) {
      const float b = rep.absmax_before[static_cast<size_t>(j)];
      const float f = b > 0 ? rep.absmax_raw[static_cast<size_t>(j)] / b : 1.f;
      for (int64_t t = 0; t < raw.rows; ++t) raw.abs[static_cast<size_t>(t * raw.cols + j)] *= f;
    }
  }
  h.panels.push_back(std::move(raw));
  if (smooth) h.panels.push_back(panel("smoothed", "after smoothing", rep.abs_before));
  if (o.duquant_transform())
    h.panels.push_back(panel("after",
                             "after DuQuant " + std::string(smooth ? "(smoothing, " : "(") +
                                 (rep.absmax_perm.empty() ? "R₁)" : "R₁, P, R₂)"),
                             rep.abs_after));
  else if (o.rotation_transform()) h.panels.push_back(panel("after", "after randomized Hadamard", rep.abs_after));
  else if (o.is_auto()) h.panels.push_back(panel("after", "after the transform duquant-auto chose", rep.abs_after));
  return h;
}

float max_of(const std::vector<float>& v) { return v.empty() ? 0.f : *std::max_element(v.begin(), v.end()); }

void run_inspect(const InspectOpts& o, const CLI::App& app) {
  auto inputs = model_input_paths(o.m);
  inputs.insert(inputs.end(), {o.q.calib_file, o.text});
  const std::filesystem::path out = check_output_file(o.out, "--out", o.force, inputs);  // before any work
  require_regular_file(o.q.calib_file, "calibration text");
  if (o.compare) require_regular_file(o.text, "text file");
  auto src = model::open_weights(o.m.model);
  if (app.count("--calib-ctx")) allow_context(*src, o.q.o.calib_ctx, "--calib-ctx " + std::to_string(o.q.o.calib_ctx));
  if (o.ctx > 0) allow_context(*src, o.ctx, "--ctx " + std::to_string(o.ctx));
  const auto& cfg = src->config();
  auto tok = load_tokenizer_for(o.m, cfg);
  calib::QuantOptions base = o.q.resolve(app, cfg.max_seq_len);
  base.method = calib::parse_method(o.method);
  if (base.method == calib::Method::Fp)
    fail("--method fp has no transform to inspect (choose e.g. rtn, smoothquant, rotation or duquant)");
  std::tie(base.wbits, base.abits) = parse_bits(o.bits, "--bits");
  base.validate();
  const std::vector<int> layers = parse_layers(o.layers, cfg.n_layers);
  std::vector<calib::Method> methods;
  for (const auto& name : split_list(o.methods)) {
    const calib::Method m = parse_method_option(name, "--methods");
    if (m != calib::Method::Fp && std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  }
  if (std::find(methods.begin(), methods.end(), base.method) == methods.end()) methods.push_back(base.method);
  const int ctx = o.ctx > 0 ? o.ctx : std::min(cfg.max_seq_len, 2048);
  if (o.compare && ctx > cfg.max_seq_len)
    fail("--ctx ", ctx, " exceeds the model's maximum context of ", cfg.max_seq_len);
  std::vector<int> eval_tokens;
  if (o.compare) eval_tokens = tok->encode(read_text_file(o.text), true, false);

  auto windows = calibration_windows(o.q, base, *tok);
  const int64_t tokens = windows.empty() ? 0 : static_cast<int64_t>(windows.front().size());

  eval::InspectReport rep;
  rep.title = o.title;
  rep.model = o.m.model;
  rep.method = calib::method_name(base.method);
  rep.settings = base.describe();
  rep.calib = o.q.calib_file + " (" + std::to_string(windows.size()) + " × " + std::to_string(tokens) + " tokens)";
  rep.n_layers = cfg.n_layers;
  for (int s = 0; s < model::kNumSites; ++s) {
    rep.errors.sites.push_back(model::site_name(static_cast<Site>(s)));
    rep.errors.site_titles.push_back(std::string(site_title(static_cast<Site>(s))) + " → " +
                                     site_consumers(static_cast<Site>(s)));
  }

  // The inspected method first (its report draws the figures), then the others for the error table.
  std::vector<calib::Method> order = {base.method};
  for (auto m : methods)
    if (m != base.method) order.push_back(m);
  std::vector<std::vector<std::vector<double>>> errors(methods.size());
  std::vector<calib::QuantizedModel> kept(methods.size());
  std::vector<std::string> summary;
  for (auto m : order) {
    calib::QuantOptions q = base;
    q.method = m;
    if (base.progress) std::fprintf(stderr, "%s\n", q.describe().c_str());
    calib::QuantizedModel qm = calib::quantize_model(*src, windows, q);
    const size_t mi = static_cast<size_t>(std::find(methods.begin(), methods.end(), m) - methods.begin());
    for (const auto& layer : qm.report) {
      std::vector<double> row;
      row.reserve(layer.size());
      for (const auto& site : layer) row.push_back(site.output_rel_error);
      errors[mi].push_back(std::move(row));
    }
    if (m == base.method) {
      for (int l : layers) {
        const auto& lr = qm.report[static_cast<size_t>(l)];
        for (int s = 0; s < model::kNumSites; ++s)
          rep.stages.push_back(site_stages(l, static_cast<Site>(s), lr[static_cast<size_t>(s)], q, tokens));
        const auto& down = lr[static_cast<size_t>(Site::DownIn)];
        if (down.abs_before.size() > 0) rep.heats.push_back(site_heat(l, down, q));
        char line[160];
        std::snprintf(line, sizeof line, "block %d down-projection input: max |x| %.4g → %.4g", l,
                      max_of(down.absmax_raw),
                      max_of(down.absmax_after.empty() ? down.absmax_before : down.absmax_after));
        summary.push_back(line);
      }
      for (auto& layer : qm.report)  // the heat maps are copied; free the originals before the next method
        for (auto& site : layer) site.abs_before = site.abs_after = Mat();
    }
    if (o.compare) kept[mi] = std::move(qm);
  }
  for (auto m : methods) rep.errors.methods.push_back(calib::method_name(m));
  rep.errors.values = std::move(errors);

  if (o.compare) {
    eval::PplOptions po;
    po.ctx = ctx;
    po.max_windows = o.max_windows;
    po.progress = base.progress;
    calib::QuantizedModel fp = calib::float_model(*src);
    model::KVCache cache(cfg, ctx);
    std::vector<eval::WindowLogitsFn> fns;
    fns.reserve(kept.size());
    for (auto& qm : kept) fns.push_back([&qm, &cache](std::span<const int> w) { return qm.forward(w, 0, cache); });
    auto res = eval::compare_models(
        eval_tokens, tok->bos_id(), [&](std::span<const int> w) { return fp.forward(w, 0, cache); }, fns, po);
    eval::CompareTable ct;
    ct.caption = "Perplexity of each model on " + o.text + " (ctx " + std::to_string(ctx) + ", " +
                 std::to_string(res[0].scored) +
                 " tokens scored) and mean KL divergence KL(P_fp ‖ P_model) per "
                 "token, top-1 agreement with the float model; the same models as the error table.";
    ct.rows.push_back({"fp", "W16A16", res[0].ppl, res[0].ppl_stderr, 0.0, 1.0, 0.0});
    const std::string bits = "W" + std::to_string(base.wbits) + "A" + std::to_string(base.abits);
    for (size_t i = 0; i < methods.size(); ++i) {
      const auto& r = res[i + 1];
      ct.rows.push_back(
          {calib::method_name(methods[i]), bits, r.ppl, r.ppl_stderr, r.kld, r.top1_agree, kept[i].calib_seconds});
    }
    rep.compare = std::move(ct);
  }

  const std::string html = eval::render_report_html(rep);
  write_file_atomic(out, html, o.force ? Replace::IfRegular : Replace::No);
  const size_t figures = rep.stages.size() + rep.heats.size() + rep.errors.sites.size();
  std::printf("wrote %s (%.1f KB): %zu figures for %zu block(s), %zu method(s)%s\n", o.out.c_str(),
              html.size() / 1024.0, figures, layers.size(), methods.size(), o.compare ? ", perplexity table" : "");
  for (const auto& s : summary) std::printf("%s\n", s.c_str());
}

DUQ_REGISTER_COMMAND(
    {"inspect", "HTML report: activation outliers at each transform stage, heat maps, per-layer error of each method",
     [](CLI::App& app) {
       auto o = std::make_shared<InspectOpts>();
       o->m.add(app);
       o->q.add(app);
       app.add_option("--method", o->method, "method whose transform the figures show")
           ->capture_default_str()
           ->check(CLI::IsMember(calib::method_names()));
       app.add_option("--bits", o->bits, "bit setting, e.g. W4A4, W6A6, W4A8")->capture_default_str();
       app.add_option("--methods", o->methods, "comma-separated methods for the error table")->capture_default_str();
       app.add_option("--layers", o->layers, "blocks to draw, e.g. 0,2,5-7 (default: all)");
       auto* cmp =
           app.add_flag("--compare", o->compare, "add the perplexity / KL table of `duquant compare` (needs --text)");
       auto* text = app.add_option("--text", o->text, "evaluation text for --compare");
       cmp->needs(text);
       text->needs(cmp);
       app.add_option("--ctx", o->ctx, "evaluation window for --compare (default: min(model max, 2048))")
           ->check(Range(2, kMaxContext));
       app.add_option("--max-windows", o->max_windows, "evaluate at most this many windows (default: all)")
           ->check(Range(1, kMaxWindows));
       app.add_option("--title", o->title, "report title")->capture_default_str();
       app.add_option("-o,--out", o->out, "output HTML file")->required();
       app.add_flag("--force", o->force, "replace an existing output file (a regular file that is not an input)");
       app.callback([o, &app] { run_inspect(*o, app); });
     }});

}  // namespace
}  // namespace duq::tools
