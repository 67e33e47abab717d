// Inline-SVG charts for the HTML report (eval/report_html.h): a line chart of per-channel curves, a grouped
// bar chart, and heat-map panels with a shared log colour bar. Each returns one <svg> element whose
// viewBox scales to the page width; every label is escaped.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eval/report_html_raster.h"

namespace duq::eval::svg {

// Escapes & < > " ' for text and attribute values.
std::string esc(std::string_view s);
// Compact number: 3 significant digits, exponent form outside [1e-3, 1e5): "540", "1.23", "0.00412", "2.5e+06".
std::string num(double v);

// A y (or colour) axis: linear from 0 or log10 across whole decades, chosen from the data's range.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  // Position of v in [p0, p1] (p0 at lo); log axes clamp v ≤ 0 to lo.
  double map(double v, double p0, double p1) const;
  std::vector<double> ticks() const;
};
// Log when max / (smallest positive) > log_ratio, else linear from 0 to a rounded-up max.
Axis auto_axis(const std::vector<const std::vector<float>*>& data, double log_ratio = 30.0);

struct Series {
  std::string label;
  std::string color;  // CSS colour
  std::vector<float> y;
  bool dashed = false;
};

// Curves over x = 0 … x_count−1 where point i covers x ∈ [i·x_step, (i+1)·x_step).
struct LineChart {
  std::string svg_class = "stage";
  std::string x_label, y_label;
  int64_t x_count = 0, x_step = 1;
  std::vector<Series> series;
  double width = 600, height = 300;
};
std::string line_chart(const LineChart& c);

// values[s][k]: series s (legend) at category k (x axis).
struct BarChart {
  std::string svg_class = "bars";
  std::string x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;  // y has one value per category
  double width = 600, height = 280;
};
std::string bar_chart(const BarChart& c);

// Heat-map panels side by side sharing one log colour scale [lo, hi].
struct HeatPanelSvg {
  std::string title;
  int64_t src_rows = 0, src_cols = 0;  // tokens × channels before pooling (axis ranges)
  Raster raster;                       // pooled |x|
};
struct HeatChart {
  std::string svg_class = "heat";
  std::string x_label = "channel", y_label = "token";
  std::vector<HeatPanelSvg> panels;
  float lo = 1e-3f, hi = 1.f;
  std::string color_label = "|x|";
  double width = 1200, plot_height = 300;
};
std::string heat_chart(const HeatChart& c);

}  // namespace duq::eval::svg
