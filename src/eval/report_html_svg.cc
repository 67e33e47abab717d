#include "eval/report_html_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace duq::eval::svg {

std::string esc(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v) {
  char buf[32];
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  const double a = std::fabs(v);
  if (a >= 1000 && a < 1e5) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a != 0 && a < 1e-3) std::snprintf(buf, sizeof buf, "%.2g", v);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

namespace {

// Coordinates with one decimal: enough at these sizes, half the bytes of %g.
std::string c1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

double nice_step(double range, int target) {
  if (!(range > 0)) return 1;
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", const char* cls = "tick",
                 const std::string& extra = "") {
  return "<text x=\"" + c1(x) + "\" y=\"" + c1(y) + "\" text-anchor=\"" + anchor + "\" class=\"" + cls + "\"" + extra +
         ">" + esc(s) + "</text>";
}

std::string line(double x0, double y0, double x1, double y1, const char* cls) {
  return "<line x1=\"" + c1(x0) + "\" y1=\"" + c1(y0) + "\" x2=\"" + c1(x1) + "\" y2=\"" + c1(y1) + "\" class=\"" +
         cls + "\"/>";
}

// Legend entries laid out left to right from (x0, y), wrapping at x1; returns the SVG and the rows used.
std::string legend(const std::vector<Series>& series, double x0, double x1, double y, bool bars, int* rows_out) {
  std::string o;
  double x = x0;
  int rows = 1;
  for (const auto& s : series) {
    const double w = 26 + 6.6 * static_cast<double>(s.label.size()) + 16;
    if (x > x0 && x + w > x1) {
      x = x0;
      y += 16;
      ++rows;
    }
    if (bars)
      o += "<rect x=\"" + c1(x) + "\" y=\"" + c1(y - 8) + "\" width=\"18\" height=\"9\" fill=\"" + s.color + "\"/>";
    else
      o += "<line x1=\"" + c1(x) + "\" y1=\"" + c1(y - 4) + "\" x2=\"" + c1(x + 20) + "\" y2=\"" + c1(y - 4) +
           "\" stroke=\"" + s.color + "\" stroke-width=\"2.5\"" + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>";
    o += text(x + 26, y, s.label, "start", "legend");
    x += w;
  }
  if (rows_out) *rows_out = rows;
  return o;
}

int legend_rows(const std::vector<Series>& series, double x0, double x1) {
  int rows = 0;
  legend(series, x0, x1, 0, false, &rows);
  return rows;
}

std::string open_svg(const std::string& cls, double w, double h) {
  return "<svg class=\"" + esc(cls) + "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + c1(w) + " " + c1(h) +
         "\" width=\"100%\" role=\"img\">";
}

// y axis with ticks, grid lines and label at the left of the plot [px0, px1] × [py0 (top), py1 (bottom)].
std::string y_axis(const Axis& a, double px0, double px1, double py0, double py1, const std::string& label) {
  std::string o;
  for (double t : a.ticks()) {
    const double y = a.map(t, py1, py0);
    o += line(px0, y, px1, y, "grid");
    o += text(px0 - 5, y + 3.5, num(t), "end");
  }
  o += line(px0, py0, px0, py1, "axis");
  const double cy = (py0 + py1) / 2;
  o += text(14, cy, label + (a.log ? " (log)" : ""), "middle", "label", " transform=\"rotate(-90 14 " + c1(cy) + ")\"");
  return o;
}

}  // namespace

double Axis::map(double v, double p0, double p1) const {
  double f;
  if (log) {
    const double lv = std::log10(std::max(v, lo));
    f = (lv - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  } else {
    f = (v - lo) / (hi - lo);
  }
  f = std::clamp(f, 0.0, 1.0);
  return p0 + (p1 - p0) * f;
}

std::vector<double> Axis::ticks() const {
  std::vector<double> t;
  if (log) {
    const int e0 = static_cast<int>(std::lround(std::log10(lo))), e1 = static_cast<int>(std::lround(std::log10(hi)));
    const int step = (e1 - e0) > 8 ? 2 : 1;
    for (int e = e0; e <= e1; e += step) t.push_back(std::pow(10.0, e));
  } else {
    const double s = nice_step(hi - lo, 5);
    for (double v = lo; v <= hi + 1e-9 * s; v += s) t.push_back(v);
  }
  return t;
}

Axis auto_axis(const std::vector<const std::vector<float>*>& data, double log_ratio) {
  double mx = 0, mn = INFINITY;
  for (const auto* d : data)
    for (float v : *d) {
      if (!std::isfinite(v)) continue;
      mx = std::max(mx, double(v));
      if (v > 0) mn = std::min(mn, double(v));
    }
  Axis a;
  if (mx > 0 && std::isfinite(mn) && mx / mn > log_ratio) {
    a.log = true;
    a.lo = std::pow(10.0, std::floor(std::log10(mn)));
    a.hi = std::pow(10.0, std::ceil(std::log10(mx)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    // Keep at most 8 decades of empty floor: tiny values say nothing about outliers.
    if (a.hi / a.lo > 1e8) a.lo = a.hi / 1e8;
  } else {
    a.lo = 0;
    const double s = nice_step(mx > 0 ? mx : 1.0, 5);
    a.hi = std::max(s, std::ceil((mx > 0 ? mx : 1.0) / s) * s);
  }
  return a;
}

// The plot area of a chart (margins: the y axis labels on the left, the legend rows on top, the x labels
// below) and its y axis over all series.
struct PlotFrame {
  double px0, px1, py0, py1;
  Axis ya;
};

PlotFrame plot_frame(const std::vector<Series>& series, double width, double height) {
  const double ml = 62, mr = 12, mb = 40;
  const double mt = 14 + 16 * legend_rows(series, ml, width - mr);
  std::vector<const std::vector<float>*> data;
  data.reserve(series.size());
  for (const auto& s : series) data.push_back(&s.y);
  return {ml, width - mr, mt, height - mb, auto_axis(data)};
}

std::string line_chart(const LineChart& c) {
  const auto [px0, px1, py0, py1, ya] = plot_frame(c.series, c.width, c.height);
  const double xmax = std::max<int64_t>(1, c.x_count - 1);
  const double x_lo = px0, x_hi = px1;  // named copies: C++17 lambdas (clang-14) cannot capture structured bindings
  auto xmap = [&](double x) { return x_lo + (x_hi - x_lo) * x / xmax; };

  std::string o = open_svg(c.svg_class, c.width, c.height);
  o += y_axis(ya, px0, px1, py0, py1, c.y_label);
  const double xs = nice_step(xmax, 6);
  for (double x = 0; x <= xmax + 1e-9; x += xs) {
    o += line(xmap(x), py1, xmap(x), py1 + 4, "axis");
    o += text(xmap(x), py1 + 15, num(x));
  }
  o += line(px0, py1, px1, py1, "axis");
  o += text((px0 + px1) / 2, c.height - 6, c.x_label, "middle", "label");
  for (const auto& s : c.series) {
    if (s.y.empty()) continue;
    o += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"" + (s.dashed ? "1.2" : "1.5") + "\"" +
         (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + " stroke-linejoin=\"round\" points=\"";
    for (size_t i = 0; i < s.y.size(); ++i) {
      const double xc = std::min<double>(xmax, double(i) * c.x_step + (c.x_step - 1) / 2.0);
      if (i) o += ' ';
      o += c1(xmap(xc)) + "," + c1(ya.map(s.y[i], py1, py0));
    }
    o += "\"><title>" + esc(s.label) + "</title></polyline>";
  }
  o += legend(c.series, px0, px1, 16, false, nullptr);
  o += "</svg>";
  return o;
}

std::string bar_chart(const BarChart& c) {
  const auto [px0, px1, py0, py1, ya] = plot_frame(c.series, c.width, c.height);
  const size_t nc = std::max<size_t>(1, c.categories.size()), ns = std::max<size_t>(1, c.series.size());
  const double gw = (px1 - px0) / double(nc), bw = gw * 0.8 / double(ns);

  std::string o = open_svg(c.svg_class, c.width, c.height);
  o += y_axis(ya, px0, px1, py0, py1, c.y_label);
  const size_t label_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(nc * 22.0 / (px1 - px0))));
  for (size_t k = 0; k < c.categories.size(); ++k) {
    const double gx = px0 + gw * double(k);
    for (size_t s = 0; s < c.series.size(); ++s) {
      if (k >= c.series[s].y.size()) continue;
      const double v = c.series[s].y[k];
      const double y = ya.map(v, py1, py0);
      o += "<rect x=\"" + c1(gx + gw * 0.1 + bw * double(s)) + "\" y=\"" + c1(y) + "\" width=\"" +
           c1(std::max(bw, 0.5)) + "\" height=\"" + c1(py1 - y) + "\" fill=\"" + c.series[s].color + "\"><title>" +
           esc(c.series[s].label + ", " + c.x_label + " " + c.categories[k] + ": " + num(v)) + "</title></rect>";
    }
    if (k % label_every == 0) o += text(gx + gw / 2, py1 + 15, c.categories[k]);
  }
  o += line(px0, py1, px1, py1, "axis");
  o += text((px0 + px1) / 2, c.height - 6, c.x_label, "middle", "label");
  o += legend(c.series, px0, px1, 16, true, nullptr);
  o += "</svg>";
  return o;
}

std::string heat_chart(const HeatChart& c) {
  const size_t n = std::max<size_t>(1, c.panels.size());
  const double ml = 58, gap = 18, cbar = 92, mt = 26, mb = 40;
  const double pw = (c.width - cbar - double(n) * (ml + gap)) / double(n);
  const double py0 = mt, py1 = mt + c.plot_height, height = py1 + mb;
  const auto& pal = viridis();
  std::string o = open_svg(c.svg_class, c.width, height);
  for (size_t p = 0; p < c.panels.size(); ++p) {
    const auto& hp = c.panels[p];
    const double px0 = double(p) * (ml + gap + pw) + ml, px1 = px0 + pw;
    o += text((px0 + px1) / 2, 16, hp.title, "middle", "ptitle");
    if (hp.raster.rows > 0 && hp.raster.cols > 0) {
      std::vector<uint8_t> idx(hp.raster.v.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = log_index(hp.raster.v[i], c.lo, c.hi);
      const std::string png =
          encode_png_palette(idx, static_cast<int>(hp.raster.cols), static_cast<int>(hp.raster.rows), pal);
      o += "<image x=\"" + c1(px0) + "\" y=\"" + c1(py0) + "\" width=\"" + c1(pw) + "\" height=\"" + c1(py1 - py0) +
           "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64," +
           base64(png) + "\"><title>" + esc(hp.title) + "</title></image>";
    }
    o += "<rect x=\"" + c1(px0) + "\" y=\"" + c1(py0) + "\" width=\"" + c1(pw) + "\" height=\"" + c1(py1 - py0) +
         "\" class=\"frame\"/>";
    // Axes: channels along x, tokens down y (token 0 at the top).
    const double xmax = std::max<int64_t>(1, hp.src_cols), ymax = std::max<int64_t>(1, hp.src_rows);
    const double xs = nice_step(xmax, 4), ys = nice_step(ymax, 5);
    for (double x = 0; x < xmax; x += xs) {
      const double X = px0 + pw * x / xmax;
      o += line(X, py1, X, py1 + 4, "axis");
      o += text(X, py1 + 15, num(x));
    }
    for (double y = 0; y < ymax; y += ys) {
      const double Y = py0 + (py1 - py0) * y / ymax;
      o += line(px0 - 4, Y, px0, Y, "axis");
      o += text(px0 - 6, Y + 3.5, num(y), "end");
    }
    o += text((px0 + px1) / 2, height - 6, c.x_label, "middle", "label");
    const double cy = (py0 + py1) / 2, lx = px0 - 44;
    o += text(lx, cy, c.y_label, "middle", "label", " transform=\"rotate(-90 " + c1(lx) + " " + c1(cy) + ")\"");
  }
  // Colour bar: a 1 × 256 palette image, high values at the top, log ticks.
  std::vector<uint8_t> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<size_t>(i)] = static_cast<uint8_t>(255 - i);
  const double bx = c.width - cbar + 14, bw = 16;
  o += "<image x=\"" + c1(bx) + "\" y=\"" + c1(py0) + "\" width=\"" + c1(bw) + "\" height=\"" + c1(py1 - py0) +
       "\" preserveAspectRatio=\"none\" href=\"data:image/png;base64," + base64(encode_png_palette(ramp, 1, 256, pal)) +
       "\"/>";
  o += "<rect x=\"" + c1(bx) + "\" y=\"" + c1(py0) + "\" width=\"" + c1(bw) + "\" height=\"" + c1(py1 - py0) +
       "\" class=\"frame\"/>";
  Axis ca;
  ca.log = true;
  ca.lo = c.lo;
  ca.hi = c.hi;
  std::vector<double> ticks;
  for (int e = static_cast<int>(std::ceil(std::log10(c.lo) - 1e-9));
       e <= static_cast<int>(std::floor(std::log10(c.hi) + 1e-9)); ++e)
    ticks.push_back(std::pow(10.0, e));
  for (double t : ticks) {
    const double y = ca.map(t, py1, py0);
    o += line(bx + bw, y, bx + bw + 4, y, "axis");
    o += text(bx + bw + 6, y + 3.5, num(t), "start");
  }
  o += text(bx + bw / 2, py0 - 8, c.color_label, "middle", "label");
  o += "</svg>";
  return o;
}

}  // namespace duq::eval::svg
