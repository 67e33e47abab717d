#include "eval/report_html.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "eval/report_html_raster.h"
#include "eval/report_html_svg.h"

namespace duq::eval {

using svg::esc;
using svg::num;

namespace {

const char* kStyle = R"CSS(
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:0 auto;max-width:1240px;padding:10px 20px 40px;color:#222;background:#fff}
h1{font-size:22px;margin:6px 0 4px}
h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin:26px 0 8px}
p{font-size:13.5px;line-height:1.45;margin:6px 0}
.meta{color:#555;font-size:13px}
nav{font-size:13px;margin:6px 0}
nav a{margin-right:10px;color:#1f5fa8}
summary{font-size:13px;cursor:pointer;color:#1f5fa8;margin:4px 0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:8px 22px}
figure{margin:0;padding:6px 0}
figcaption{font-size:12.5px;color:#444;line-height:1.35;margin-top:2px}
.ftitle{font-weight:600;font-size:13.5px;margin:0 0 2px}
svg{display:block}
svg text{font-family:inherit}
svg text.tick{font-size:10.5px;fill:#444}
svg text.label{font-size:12px;fill:#222}
svg text.legend{font-size:11px;fill:#222}
svg text.ptitle{font-size:12.5px;font-weight:600;fill:#222}
svg .grid{stroke:#e8e8e8;stroke-width:1}
svg .axis{stroke:#555;stroke-width:1}
svg .frame{fill:none;stroke:#555;stroke-width:1}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0}
td,th{padding:3px 9px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f4f4f4;font-weight:600}
td.l,th.l{text-align:left}
.down{color:#1a7f37;font-weight:600}
.up{color:#b42318;font-weight:600}
)CSS";

// Stage colours by key, so the same stage has the same colour in every figure.
std::string stage_color(const std::string& key) {
  static const std::map<std::string, std::string> c = {{"fp", "#8c8c8c"},       {"raw", "#d62728"},
                                                       {"smoothed", "#ff7f0e"}, {"rot1", "#2ca02c"},
                                                       {"perm", "#9467bd"},     {"after", "#1f77b4"}};
  auto it = c.find(key);
  return it != c.end() ? it->second : "#17becf";
}
std::string method_color(const std::string& m, size_t i) {
  static const std::map<std::string, std::string> c = {{"rtn", "#8c8c8c"},
                                                       {"smoothquant", "#ff7f0e"},
                                                       {"rotation", "#2ca02c"},
                                                       {"duquant", "#1f77b4"},
                                                       {"fp", "#222222"}};
  static const char* other[] = {"#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"};
  auto it = c.find(m);
  return it != c.end() ? it->second : other[i % 5];
}

float vmax(const std::vector<float>& v) {
  float m = 0;
  for (float x : v)
    if (std::isfinite(x)) m = std::max(m, x);
  return m;
}

const StageCurve* find_curve(const SiteStages& s, const std::string& key) {
  for (const auto& c : s.curves)
    if (c.key == key) return &c;
  return nullptr;
}
// The first non-reference curve (the input) and the last one (after the whole transform).
const StageCurve* first_stage(const SiteStages& s) {
  for (const auto& c : s.curves)
    if (!c.reference) return &c;
  return nullptr;
}
const StageCurve* last_stage(const SiteStages& s) {
  for (auto it = s.curves.rbegin(); it != s.curves.rend(); ++it)
    if (!it->reference) return &*it;
  return nullptr;
}

std::string ratio_html(double before, double after) {
  if (!(after > 0) || !(before > 0)) return "";
  const double r = before / after;
  if (r >= 1) return " <span class=\"down\">" + num(r) + "× lower</span>";
  return " <span class=\"up\">" + num(1 / r) + "× higher</span>";
}

std::string figure(const std::string& cls, const std::string& id, const std::string& title, const std::string& body,
                   const std::string& caption) {
  return "<figure class=\"" + cls + "\" id=\"" + esc(id) + "\"><div class=\"ftitle\">" + esc(title) + "</div>" + body +
         "<figcaption>" + caption + "</figcaption></figure>\n";
}

struct Rendered {
  std::string html;
  nlohmann::json json;
};

Rendered render_stages(const InspectReport& r, const SiteStages& s) {
  Rendered out;
  svg::LineChart ch;
  ch.x_label = "input channel";
  ch.y_label = "max |x|";
  int64_t channels = 0, bucket = 1;
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& c : s.curves) {
    if (c.absmax.empty()) continue;
    channels = std::max<int64_t>(channels, static_cast<int64_t>(c.absmax.size()));
    svg::Series se;
    se.y = bucket_max(c.absmax, r.max_points, &bucket);
    se.label = c.label + " (max " + num(vmax(c.absmax)) + ")";
    se.color = stage_color(c.key);
    se.dashed = c.reference;
    stages.push_back(
        {{"key", c.key}, {"label", c.label}, {"max", vmax(c.absmax)}, {"reference", c.reference}, {"values", se.y}});
    ch.series.push_back(std::move(se));
  }
  ch.x_count = channels;
  ch.x_step = bucket;
  std::vector<const std::vector<float>*> data;
  for (const auto& se : ch.series) data.push_back(&se.y);
  const bool log_y = svg::auto_axis(data).log;

  std::string cap = "Per-channel max |x| over the " + std::to_string(s.tokens) +
                    "-token calibration search sequence at each stage of the transform" +
                    (log_y ? " (log scale)" : "") + ".";
  const StageCurve* a = first_stage(s);
  const StageCurve* b = last_stage(s);
  if (a && b && a != b)
    cap += " Largest value " + num(vmax(a->absmax)) + " (" + esc(a->label) + ") → " + num(vmax(b->absmax)) + " (" +
           esc(b->label) + ")" + ratio_html(vmax(a->absmax), vmax(b->absmax)) + ".";
  if (bucket > 1) cap += " Each point is the max over " + std::to_string(bucket) + " adjacent channels.";
  if (find_curve(s, "fp")) cap += " Dashed: the float model over all calibration windows (the smoothing statistic).";
  const std::string title = "Block " + std::to_string(s.layer) + " · " + s.title + " → " + s.consumers;
  out.html = figure("chart stage", "stage-" + std::to_string(s.layer) + "-" + s.site, title, svg::line_chart(ch), cap);
  out.json = {{"layer", s.layer},   {"site", s.site},   {"consumers", s.consumers}, {"channels", channels},
              {"tokens", s.tokens}, {"bucket", bucket}, {"log_y", log_y},           {"stages", stages}};
  return out;
}

Rendered render_heat(const InspectReport& r, const SiteHeat& h) {
  Rendered out;
  svg::HeatChart ch;
  float hi = 0;
  std::vector<float> positive;
  nlohmann::json panels = nlohmann::json::array();
  int64_t tokens = 0, channels = 0;
  for (const auto& p : h.panels) {
    svg::HeatPanelSvg sp;
    sp.src_rows = p.rows;
    sp.src_cols = p.cols;
    sp.raster = max_pool(p.abs, p.rows, p.cols, r.heat_rows, r.heat_cols);
    const float m = vmax(p.abs);
    sp.title = p.label + " (max " + num(m) + ")";
    hi = std::max(hi, sp.raster.max());
    for (float v : sp.raster.v)
      if (v > 0 && std::isfinite(v)) positive.push_back(v);
    std::vector<float> token_max(static_cast<size_t>(sp.raster.rows), 0.f);
    for (int64_t i = 0; i < sp.raster.rows; ++i)
      for (int64_t j = 0; j < sp.raster.cols; ++j)
        token_max[static_cast<size_t>(i)] =
            std::max(token_max[static_cast<size_t>(i)], sp.raster.v[static_cast<size_t>(i * sp.raster.cols + j)]);
    panels.push_back({{"key", p.key}, {"label", p.label}, {"max", m}, {"token_max", token_max}});
    tokens = p.rows;
    channels = p.cols;
    ch.panels.push_back(std::move(sp));
  }
  if (!(hi > 0)) hi = 1;
  // Colour range: the 1st percentile of the pooled values up to the max, at most 5 decades, at least 1.
  float lo = hi * 1e-5f;
  if (!positive.empty()) {
    const size_t k = positive.size() / 100;
    std::nth_element(positive.begin(), positive.begin() + static_cast<std::ptrdiff_t>(k), positive.end());
    lo = std::max(lo, positive[k]);
  }
  lo = std::min(lo, hi / 10);
  ch.lo = lo;
  ch.hi = hi;
  const auto& p0 = ch.panels.empty() ? svg::HeatPanelSvg{} : ch.panels.front();
  std::string cap = "|x| per token (rows, top = first token) and channel (columns) of the " + std::to_string(tokens) +
                    "-token calibration search sequence; one shared log colour scale, bright = large.";
  if (p0.raster.row_step > 1 || p0.raster.col_step > 1)
    cap += " Each cell is the max over " + std::to_string(p0.raster.row_step) + " token(s) × " +
           std::to_string(p0.raster.col_step) + " channel(s).";
  if (h.panels.size() >= 2)
    cap += " Largest value " + num(vmax(h.panels.front().abs)) + " → " + num(vmax(h.panels.back().abs)) +
           ratio_html(vmax(h.panels.front().abs), vmax(h.panels.back().abs)) +
           ". Outliers before the transform (bright spots: a few tokens; stripes: a few channels) end up spread over "
           "whole rotation blocks.";
  const std::string title = "Block " + std::to_string(h.layer) + " · " + h.title + ": token × channel |x|";
  out.html = figure("chart heat", "heat-" + std::to_string(h.layer) + "-" + h.site, title, svg::heat_chart(ch), cap);
  out.json = {{"layer", h.layer},
              {"site", h.site},
              {"tokens", tokens},
              {"channels", channels},
              {"cell_rows", p0.raster.rows},
              {"cell_cols", p0.raster.cols},
              {"row_step", p0.raster.row_step},
              {"col_step", p0.raster.col_step},
              {"color_lo", lo},
              {"color_hi", hi},
              {"panels", panels}};
  return out;
}

std::string summary_table(const InspectReport& r) {
  // Rows: blocks; columns: sites; cell: first-stage max → last-stage max.
  std::vector<std::string> sites;
  std::map<std::pair<int, std::string>, const SiteStages*> at;
  std::vector<int> layers;
  for (const auto& s : r.stages) {
    if (std::find(sites.begin(), sites.end(), s.site) == sites.end()) sites.push_back(s.site);
    if (std::find(layers.begin(), layers.end(), s.layer) == layers.end()) layers.push_back(s.layer);
    at[{s.layer, s.site}] = &s;
  }
  if (layers.empty()) return "";
  std::string o = "<table class=\"summary\"><tr><th class=\"l\">block</th>";
  for (const auto& site : sites) {
    const SiteStages* any = nullptr;
    for (const auto& s : r.stages)
      if (s.site == site) any = &s;
    o += "<th>" + esc(any ? any->title + " → " + any->consumers : site) + "</th>";
  }
  o += "</tr>";
  for (int l : layers) {
    o += "<tr><td class=\"l\"><a href=\"#block-" + std::to_string(l) + "\">" + std::to_string(l) + "</a></td>";
    for (const auto& site : sites) {
      auto it = at.find({l, site});
      std::string cell;
      if (it != at.end()) {
        const StageCurve* a = first_stage(*it->second);
        const StageCurve* b = last_stage(*it->second);
        if (a && b) {
          cell = num(vmax(a->absmax));
          if (a != b) cell += " → " + num(vmax(b->absmax)) + ratio_html(vmax(a->absmax), vmax(b->absmax));
        }
      }
      o += "<td>" + cell + "</td>";
    }
    o += "</tr>";
  }
  return o + "</table>";
}

Rendered render_errors(const ErrorTable& e) {
  Rendered out;
  const size_t nm = e.methods.size(), ns = e.sites.size();
  size_t nl = 0;
  for (const auto& m : e.values) nl = std::max(nl, m.size());
  std::string charts;
  for (size_t s = 0; s < ns; ++s) {
    svg::BarChart ch;
    ch.x_label = "block";
    ch.y_label = "relative error";
    for (size_t l = 0; l < nl; ++l) ch.categories.push_back(std::to_string(l));
    for (size_t m = 0; m < nm; ++m) {
      svg::Series se;
      se.label = e.methods[m];
      se.color = method_color(e.methods[m], m);
      for (size_t l = 0; l < nl; ++l)
        se.y.push_back(l < e.values[m].size() && s < e.values[m][l].size() ? static_cast<float>(e.values[m][l][s])
                                                                           : 0.f);
      ch.series.push_back(std::move(se));
    }
    std::vector<const std::vector<float>*> data;
    for (const auto& se : ch.series) data.push_back(&se.y);
    const bool log_y = svg::auto_axis(data).log;
    const std::string title = "Quantization error · " + (s < e.site_titles.size() ? e.site_titles[s] : e.sites[s]);
    const std::string cap =
        "Relative output error ‖Q(x)·Q(W)ᵀ − x·Wᵀ‖ / ‖x·Wᵀ‖ of the layers reading this input, per "
        "block and method, on the calibration search sequence" +
        std::string(log_y ? " (log scale)" : "") + "; lower is better.";
    charts += figure("chart errors", "errors-" + e.sites[s], title, svg::bar_chart(ch), cap);
  }
  out.html = "<div class=\"grid2\">" + charts + "</div>";
  // Table: one row per block and input, one column per method, then the mean over all rows.
  std::string t = "<table class=\"errors\"><tr><th class=\"l\">block</th><th class=\"l\">input</th>";
  for (const auto& m : e.methods) t += "<th>" + esc(m) + "</th>";
  t += "</tr>";
  std::vector<double> sum(nm, 0.0);
  size_t rows = 0;
  for (size_t l = 0; l < nl; ++l)
    for (size_t s = 0; s < ns; ++s) {
      t += "<tr><td class=\"l\">" + std::to_string(l) + "</td><td class=\"l\">" +
           esc(s < e.site_titles.size() ? e.site_titles[s] : e.sites[s]) + "</td>";
      double best = INFINITY;
      for (size_t m = 0; m < nm; ++m)
        if (l < e.values[m].size() && s < e.values[m][l].size()) best = std::min(best, e.values[m][l][s]);
      for (size_t m = 0; m < nm; ++m) {
        const bool have = l < e.values[m].size() && s < e.values[m][l].size();
        const double v = have ? e.values[m][l][s] : NAN;
        if (have) sum[m] += v;
        t += std::string("<td") + (have && v == best && nm > 1 ? " class=\"down\"" : "") + ">" + (have ? num(v) : "") +
             "</td>";
      }
      t += "</tr>";
      ++rows;
    }
  t += "<tr><th class=\"l\">mean</th><th></th>";
  for (size_t m = 0; m < nm; ++m) t += "<th>" + (rows ? num(sum[m] / double(rows)) : std::string()) + "</th>";
  t += "</tr></table>";
  out.html += "<details><summary>table of the errors</summary>" +
              figure("table errors", "errors-table", "Quantization error per block and input", t,
                     "The numbers the bar charts draw; the lowest error of each row in green.") +
              "</details>";
  out.json = {{"methods", e.methods}, {"sites", e.sites}, {"layers", nl}, {"values", e.values}};
  return out;
}

Rendered render_compare(const CompareTable& c) {
  Rendered out;
  std::string t =
      "<table class=\"compare\"><tr><th class=\"l\">method</th><th class=\"l\">bits</th><th>perplexity</th><th>±</th>"
      "<th>KL to fp</th><th>top-1 agree</th><th>calibration s</th></tr>";
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : c.rows) {
    t += "<tr><td class=\"l\">" + esc(r.method) + "</td><td class=\"l\">" + esc(r.bits) + "</td><td>" + num(r.ppl) +
         "</td><td>" + num(r.ppl_stderr) + "</td><td>" + num(r.kld) + "</td><td>" + num(r.top1) + "</td><td>" +
         num(r.calib_seconds) + "</td></tr>";
    rows.push_back({{"method", r.method},
                    {"bits", r.bits},
                    {"ppl", r.ppl},
                    {"ppl_stderr", r.ppl_stderr},
                    {"kld", r.kld},
                    {"top1", r.top1},
                    {"calib_seconds", r.calib_seconds}});
  }
  t += "</table>";
  out.html = figure("table compare", "compare-table", "duquant compare", t, esc(c.caption));
  out.json = {{"caption", c.caption}, {"rows", rows}};
  return out;
}

// JSON inside <script>: "</" would end the element early; "<\/" is the same JSON string.
std::string script_safe(std::string s) {
  for (size_t p = 0; (p = s.find("</", p)) != std::string::npos; p += 3) s.replace(p, 2, "<\\/");
  return s;
}

const char* kCheckScript = R"JS(
(function () {
  var b = document.body;
  try {
    var d = JSON.parse(document.getElementById('duquant-data').textContent);
    b.setAttribute('data-duq-json', 'ok');
    b.setAttribute('data-duq-sites', String(d.sites.length));
  } catch (e) {
    b.setAttribute('data-duq-json', 'error');
    console.error('duquant-data does not parse: ' + e);
  }
  b.setAttribute('data-duq-figures', String(document.querySelectorAll('figure.chart').length));
})();
)JS";

}  // namespace

std::string render_report_html(const InspectReport& r) {
  nlohmann::json j;
  j["version"] = 1;
  j["title"] = r.title;
  j["model"] = r.model;
  j["method"] = r.method;
  j["settings"] = r.settings;
  j["calib"] = r.calib;
  j["n_layers"] = r.n_layers;
  j["sites"] = nlohmann::json::array();
  j["heatmaps"] = nlohmann::json::array();

  std::string body;
  body += "<header><h1>" + esc(r.title) + "</h1><p class=\"meta\">model <b>" + esc(r.model) + "</b> · " +
          esc(r.settings) + " · calibration " + esc(r.calib) + "</p></header>\n";
  std::vector<int> layers;
  for (const auto& s : r.stages)
    if (std::find(layers.begin(), layers.end(), s.layer) == layers.end()) layers.push_back(s.layer);
  for (const auto& h : r.heats)
    if (std::find(layers.begin(), layers.end(), h.layer) == layers.end()) layers.push_back(h.layer);
  std::sort(layers.begin(), layers.end());
  body += "<nav>";
  if (!r.stages.empty()) body += "<a href=\"#summary\">outlier summary</a>";
  if (!r.errors.methods.empty()) body += "<a href=\"#errors\">quantization error</a>";
  if (r.compare) body += "<a href=\"#compare\">perplexity</a>";
  for (int l : layers) body += "<a href=\"#block-" + std::to_string(l) + "\">block " + std::to_string(l) + "</a>";
  body += "</nav>\n";

  if (!r.stages.empty()) {
    body +=
        "<section id=\"summary\"><h2>Outlier summary</h2><p>Largest |x| at each linear input, on the input as the "
        "model computes it (before smoothing) → after the whole transform, over the calibration search "
        "sequence (the mean of the calibration windows' embeddings, propagated through the already-quantized "
        "blocks: the sequence the transform is searched on). Activations are quantized per token after the transform, "
        "so a smaller maximum relative to "
        "the typical value means a finer quantization step.</p>" +
        summary_table(r) + "</section>\n";
  }
  if (!r.errors.methods.empty()) {
    Rendered e = render_errors(r.errors);
    body += "<section id=\"errors\"><h2>Quantization error per layer</h2>" + e.html + "</section>\n";
    j["errors"] = e.json;
  }
  if (r.compare) {
    Rendered c = render_compare(*r.compare);
    body += "<section id=\"compare\"><h2>Perplexity and KL divergence</h2>" + c.html + "</section>\n";
    j["compare"] = c.json;
  }
  for (int l : layers) {
    // The heat map first: where the massive outliers are is the headline of a block.
    body += "<section id=\"block-" + std::to_string(l) + "\"><h2>Block " + std::to_string(l) + "</h2>";
    for (const auto& h : r.heats)
      if (h.layer == l) {
        Rendered x = render_heat(r, h);
        body += x.html;
        j["heatmaps"].push_back(x.json);
      }
    body += "<div class=\"grid2\">";
    for (const auto& s : r.stages)
      if (s.layer == l) {
        Rendered x = render_stages(r, s);
        body += x.html;
        j["sites"].push_back(x.json);
      }
    body += "</div></section>\n";
  }

  std::string doc =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      esc(r.title) + "</title><style>" + kStyle + "</style></head>\n<body>\n";
  doc += body;
  doc += "<script type=\"application/json\" id=\"duquant-data\">" +
         script_safe(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) + "</script>\n";
  doc += std::string("<script>") + kCheckScript + "</script>\n</body></html>\n";
  return doc;
}

}  // namespace duq::eval
