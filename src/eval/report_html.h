// `duquant inspect` report: one self-contained HTML file (inline SVG and PNG data URIs, no network, no
// external scripts or fonts) showing, per decoder block and linear input, how the transform removes
// activation outliers, the per-layer quantization error of several methods, and optionally the perplexity /
// KL comparison table. Pure rendering from plain data: the tool (tools/cmd_inspect.cc) fills InspectReport
// from the calibration pipeline's reports.
//
// The numbers the figures draw are embedded as JSON in <script type="application/json" id="duquant-data">:
//   { "version": 1, "title", "model", "method", "settings", "calib",
//     "sites":    [{layer, site, consumers, channels, tokens, bucket, log_y,
//                   stages: [{key, label, max, values: [per drawn point]}]}],
//     "heatmaps": [{layer, site, tokens, channels, cell_rows, cell_cols, row_step, col_step, color_lo, color_hi,
//                   panels: [{key, label, max, token_max: [per raster row]}]}],
//     "errors":   {methods, sites, layers, values: [method][layer][site]},
//     "compare":  {caption, rows: [{method, bits, ppl, ppl_stderr, kld, top1, calib_seconds}]} (if given) }
// `values` are the points of the polyline: max over `bucket` consecutive channels (1 = every channel);
// `max` is the exact maximum over all channels (and tokens).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace duq::eval {

// Per-channel max |x| after one stage of a transform.
struct StageCurve {
  std::string key;            // "fp", "raw", "smoothed", "rot1", "perm", "after"
  std::string label;          // legend text, e.g. "after R₁"
  std::vector<float> absmax;  // [channels]
  bool reference = false;     // drawn dashed (a statistic of another sequence, e.g. the FP model)
};

// One linear input of one block: a figure of its stage curves.
struct SiteStages {
  int layer = 0;
  std::string site;                // "attn_in", "attn_out", "ffn_in", "down_in"
  std::string title;               // "attention input", …
  std::string consumers;           // "q, k, v"
  int64_t tokens = 0;              // length of the sequence the maxima were taken over
  std::vector<StageCurve> curves;  // in transform order
};

// |x| [tokens × channels] row-major at one stage.
struct HeatPanel {
  std::string key, label;
  int64_t rows = 0, cols = 0;
  std::vector<float> abs;
};
// Token × channel heat map of one input (the down-projection input), panels side by side.
struct SiteHeat {
  int layer = 0;
  std::string site = "down_in";
  std::string title = "down-projection input";
  std::vector<HeatPanel> panels;
};

// Relative output error ‖Q(x)·Q(W)ᵀ − x·Wᵀ‖ / ‖x·Wᵀ‖ per method, block and input.
struct ErrorTable {
  std::vector<std::string> methods;
  std::vector<std::string> sites;                        // column names, e.g. "attn_in"
  std::vector<std::string> site_titles;                  // legend / headers, e.g. "q, k, v"
  std::vector<std::vector<std::vector<double>>> values;  // [method][layer][site]
};

struct CompareRow {
  std::string method, bits;
  double ppl = 0, ppl_stderr = 0, kld = 0, top1 = 0, calib_seconds = 0;
};
struct CompareTable {
  std::string caption;  // what was evaluated (text, windows, tokens)
  std::vector<CompareRow> rows;
};

struct InspectReport {
  std::string title = "DuQuant inspection";
  std::string model, method, settings, calib;
  int n_layers = 0;
  std::vector<SiteStages> stages;  // in (layer, site) order
  std::vector<SiteHeat> heats;
  ErrorTable errors;
  std::optional<CompareTable> compare;
  // Drawing resolution: points per curve and cells per heat map (max-pooled beyond these).
  int64_t max_points = 600;
  int64_t heat_rows = 128, heat_cols = 160;  // ≈ 2 px per cell at 1280 px with 3 panels
};

// The whole HTML document.
std::string render_report_html(const InspectReport& r);

}  // namespace duq::eval
