// The HTML report renderer (eval/report_html.h) on hand-made data: the embedded JSON holds the numbers the
// figures draw, one figure per (block, site) and per heat map, no network references, escaped text; and
// its pixel helpers (max pooling, PNG encoder, base64, checksums) against independent values.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "eval/report_html.h"
#include "eval/report_html_raster.h"
#include "eval/report_html_svg.h"

namespace duq::eval {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

nlohmann::json embedded_json(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"duquant-data\">";
  const size_t a = html.find(open);
  EXPECT_NE(a, std::string::npos);
  const size_t b = html.find("</script>", a);
  return nlohmann::json::parse(html.substr(a + open.size(), b - a - open.size()));
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint8_t(s[at + 3]);
}

TEST(ReportChecksums, KnownValues) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the CRC-32 check value
  EXPECT_EQ(adler32("Wikipedia"), 0x11E60398u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(adler32(""), 1u);
}

TEST(ReportBase64, Rfc4648Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\x80", 3)), "/wCA");
}

// Decodes what encode_png_palette writes (chunk CRCs, stored deflate blocks, Adler-32) back to indices.
TEST(ReportPng, PaletteImageRoundTrips) {
  for (auto [w, h] : {std::pair{3, 2}, std::pair{300, 260}}) {  // 300×260: scanlines span several 64 KiB blocks
    std::vector<uint8_t> idx(static_cast<size_t>(w * h));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint8_t>((i * 37 + i / 7) & 255);
    const std::string png = encode_png_palette(idx, w, h, viridis());
    ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    std::string idat;
    size_t pos = 8;
    std::vector<std::string> types;
    while (pos < png.size()) {
      const uint32_t len = be32(png, pos);
      const std::string type = png.substr(pos + 4, 4);
      const std::string data = png.substr(pos + 8, len);
      EXPECT_EQ(be32(png, pos + 8 + len), crc32(type + data)) << type;
      types.push_back(type);
      if (type == "IHDR") {
        EXPECT_EQ(be32(data, 0), uint32_t(w));
        EXPECT_EQ(be32(data, 4), uint32_t(h));
        EXPECT_EQ(data[8], 8);  // bit depth
        EXPECT_EQ(data[9], 3);  // palette
      }
      if (type == "PLTE") {
        EXPECT_EQ(len, 768u);
      }
      if (type == "IDAT") idat += data;
      pos += 12 + len;
    }
    EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "PLTE", "IDAT", "IEND"}));
    // zlib: header, stored blocks (BFINAL on the last), Adler-32 of the scanlines.
    ASSERT_GE(idat.size(), 6u);
    EXPECT_EQ((uint8_t(idat[0]) * 256 + uint8_t(idat[1])) % 31, 0);
    std::string raw;
    size_t p = 2;
    bool final = false;
    while (!final) {
      final = idat[p] & 1;
      EXPECT_EQ((uint8_t(idat[p]) >> 1) & 3, 0);  // BTYPE stored
      const uint16_t len = uint16_t(uint8_t(idat[p + 1]) | (uint8_t(idat[p + 2]) << 8));
      const uint16_t nlen = uint16_t(uint8_t(idat[p + 3]) | (uint8_t(idat[p + 4]) << 8));
      EXPECT_EQ(uint16_t(~len), nlen);
      raw += idat.substr(p + 5, len);
      p += 5 + len;
    }
    EXPECT_EQ(be32(idat, p), adler32(raw));
    EXPECT_EQ(p + 4, idat.size());
    ASSERT_EQ(raw.size(), static_cast<size_t>(h * (w + 1)));
    for (int y = 0; y < h; ++y) {
      EXPECT_EQ(raw[static_cast<size_t>(y * (w + 1))], 0);  // filter: none
      for (int x = 0; x < w; ++x)
        ASSERT_EQ(uint8_t(raw[static_cast<size_t>(y * (w + 1) + 1 + x)]), idx[static_cast<size_t>(y * w + x)]);
    }
  }
}

TEST(ReportRaster, BucketMaxKeepsEveryPeak) {
  std::vector<float> v(1000, 1.f);
  v[517] = 900.f;
  int64_t bucket = 0;
  auto r = bucket_max(v, 300, &bucket);
  EXPECT_EQ(bucket, 4);
  ASSERT_EQ(r.size(), 250u);
  EXPECT_EQ(r[517 / 4], 900.f);
  EXPECT_EQ(r[0], 1.f);
  auto same = bucket_max(v, 1000, &bucket);
  EXPECT_EQ(bucket, 1);
  EXPECT_EQ(same, v);
}

TEST(ReportRaster, MaxPoolKeepsASingleOutlierInItsCell) {
  const int64_t R = 300, C = 500;
  std::vector<float> m(static_cast<size_t>(R * C), 0.5f);
  m[static_cast<size_t>(123 * C + 401)] = 1000.f;
  Raster r = max_pool(m, R, C, 128, 256);
  EXPECT_EQ(r.row_step, 3);
  EXPECT_EQ(r.col_step, 2);
  EXPECT_EQ(r.rows, 100);
  EXPECT_EQ(r.cols, 250);
  EXPECT_EQ(r.max(), 1000.f);
  EXPECT_EQ(r.v[static_cast<size_t>((123 / 3) * r.cols + 401 / 2)], 1000.f);
  EXPECT_EQ(r.v[0], 0.5f);
  // Not divisible: the last cells are partial, nothing is dropped.
  Raster odd = max_pool(std::vector<float>(7 * 5, 1.f), 7, 5, 2, 2);
  EXPECT_EQ(odd.rows, 2);
  EXPECT_EQ(odd.cols, 2);
  for (float x : odd.v) EXPECT_EQ(x, 1.f);
}

TEST(ReportRaster, LogIndexAndPalette) {
  EXPECT_EQ(log_index(0.f, 1e-3f, 1e3f), 0);
  EXPECT_EQ(log_index(1e-3f, 1e-3f, 1e3f), 0);
  EXPECT_NEAR(log_index(1.f, 1e-3f, 1e3f), 127.5, 0.6);  // halfway on the log scale
  EXPECT_EQ(log_index(5e3f, 1e-3f, 1e3f), 255);
  EXPECT_EQ(log_index(NAN, 1e-3f, 1e3f), 0);
  EXPECT_EQ(hex_color(viridis()[0]), "#440154");
  EXPECT_EQ(hex_color(viridis()[255]), "#fde725");
}

TEST(ReportSvg, AxisIsLogOnlyWhenValuesSpanOrders) {
  std::vector<float> flat = {1.f, 2.f, 3.f}, spread = {0.02f, 1.f, 540.f};
  auto a = svg::auto_axis({&flat});
  EXPECT_FALSE(a.log);
  EXPECT_EQ(a.lo, 0);
  EXPECT_GE(a.hi, 3);
  auto b = svg::auto_axis({&spread});
  EXPECT_TRUE(b.log);
  EXPECT_DOUBLE_EQ(b.lo, 0.01);
  EXPECT_DOUBLE_EQ(b.hi, 1000);
  EXPECT_EQ(b.ticks().size(), 6u);
  EXPECT_EQ(svg::num(540.0), "540");
  EXPECT_EQ(svg::num(12345.0), "12345");
  EXPECT_EQ(svg::num(0.00042), "0.00042");
  EXPECT_EQ(svg::esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
}

// A two-block report: stage curves with a planted outlier, a heat map, errors of two methods, compare rows.
InspectReport sample_report(int64_t channels) {
  InspectReport r;
  r.model = "models/m</script><b>x";
  r.method = "duquant";
  r.settings = "duquant W4A4";
  r.calib = "calib.txt";
  r.n_layers = 2;
  const char* sites[] = {"attn_in", "attn_out", "ffn_in", "down_in"};
  for (int l = 0; l < 2; ++l) {
    for (const char* site : sites) {
      SiteStages s;
      s.layer = l;
      s.site = site;
      s.title = site;
      s.consumers = "w";
      s.tokens = 16;
      std::vector<float> raw(static_cast<size_t>(channels), 1.f), after(static_cast<size_t>(channels), 0.9f);
      raw[3] = 500.f;
      after[3] = 2.f;
      s.curves.push_back({"fp", "float model", raw, true});
      s.curves.push_back({"raw", "before smoothing", raw, false});
      s.curves.push_back({"after", "after R₂", after, false});
      r.stages.push_back(s);
    }
    SiteHeat h;
    h.layer = l;
    HeatPanel before{"raw", "before", 16, channels, std::vector<float>(static_cast<size_t>(16 * channels), 0.5f)};
    before.abs[5] = 500.f;
    HeatPanel after{"after", "after", 16, channels, std::vector<float>(static_cast<size_t>(16 * channels), 0.7f)};
    h.panels = {before, after};
    r.heats.push_back(h);
  }
  r.errors.methods = {"rtn", "duquant"};
  r.errors.sites = {"attn_in", "attn_out", "ffn_in", "down_in"};
  r.errors.site_titles = r.errors.sites;
  r.errors.values = {{{0.1, 0.2, 0.3, 0.9}, {0.1, 0.2, 0.3, 0.8}},
                     {{0.05, 0.06, 0.07, 0.08}, {0.05, 0.06, 0.07, 0.09}}};
  CompareTable c;
  c.caption = "eval.txt";
  c.rows = {{"fp", "W16A16", 5.0, 0.1, 0, 1, 0}, {"duquant", "W4A4", 5.5, 0.1, 0.02, 0.9, 1.5}};
  r.compare = c;
  return r;
}

TEST(ReportHtml, EmbeddedJsonHoldsTheDrawnNumbers) {
  const std::string html = render_report_html(sample_report(64));
  const auto j = embedded_json(html);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["model"], "models/m</script><b>x");
  ASSERT_EQ(j["sites"].size(), 8u);
  const auto& s = j["sites"][3];
  EXPECT_EQ(s["layer"], 0);
  EXPECT_EQ(s["site"], "down_in");
  EXPECT_EQ(s["channels"], 64);
  EXPECT_EQ(s["bucket"], 1);
  EXPECT_EQ(s["log_y"], true);
  ASSERT_EQ(s["stages"].size(), 3u);
  EXPECT_EQ(s["stages"][1]["key"], "raw");
  EXPECT_FLOAT_EQ(s["stages"][1]["max"].get<float>(), 500.f);
  EXPECT_FLOAT_EQ(s["stages"][2]["max"].get<float>(), 2.f);
  EXPECT_EQ(s["stages"][2]["values"].size(), 64u);
  ASSERT_EQ(j["heatmaps"].size(), 2u);
  EXPECT_FLOAT_EQ(j["heatmaps"][0]["panels"][0]["max"].get<float>(), 500.f);
  EXPECT_FLOAT_EQ(j["heatmaps"][0]["panels"][1]["max"].get<float>(), 0.7f);
  EXPECT_EQ(j["heatmaps"][0]["panels"][0]["token_max"].size(), 16u);
  EXPECT_FLOAT_EQ(j["heatmaps"][0]["panels"][0]["token_max"][0].get<float>(), 500.f);
  EXPECT_EQ(j["errors"]["methods"], (std::vector<std::string>{"rtn", "duquant"}));
  EXPECT_DOUBLE_EQ(j["errors"]["values"][0][0][3].get<double>(), 0.9);
  ASSERT_EQ(j["compare"]["rows"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["compare"]["rows"][1]["ppl"].get<double>(), 5.5);
}

TEST(ReportHtml, OneFigurePerSitePerHeatMapPerErrorChart) {
  const std::string html = render_report_html(sample_report(64));
  EXPECT_EQ(count(html, "<figure class=\"chart stage\""), 8u);
  EXPECT_EQ(count(html, "<figure class=\"chart heat\""), 2u);
  EXPECT_EQ(count(html, "<figure class=\"chart errors\""), 4u);
  EXPECT_EQ(count(html, "<figure class=\"table"), 2u);  // error table, compare table
  EXPECT_EQ(count(html, "<figcaption>"), 16u);          // a caption under every figure
  EXPECT_EQ(count(html, "<svg class="), 14u);
}

TEST(ReportHtml, SelfContainedAndEscaped) {
  const std::string html = render_report_html(sample_report(64));
  // No network: the only URL is the SVG namespace (an identifier, never fetched).
  std::string rest = html;
  for (size_t p; (p = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(p, 26);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  EXPECT_EQ(rest.find("<script src"), std::string::npos);
  EXPECT_EQ(rest.find("<link"), std::string::npos);
  EXPECT_EQ(rest.find("@import"), std::string::npos);
  // The hostile model name is text in the page and an escaped string in the JSON.
  EXPECT_NE(html.find("models/m&lt;/script&gt;&lt;b&gt;x"), std::string::npos);
  EXPECT_EQ(html.find("m</script>"), std::string::npos);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
}

TEST(ReportHtml, WideInputsAreMaxPooledNotDropped) {
  const std::string html = render_report_html(sample_report(5000));
  const auto j = embedded_json(html);
  const auto& s = j["sites"][0];
  EXPECT_EQ(s["channels"], 5000);
  EXPECT_EQ(s["bucket"], 9);  // ceil(5000 / 600)
  EXPECT_EQ(s["stages"][1]["values"].size(), 556u);
  EXPECT_FLOAT_EQ(s["stages"][1]["values"][0].get<float>(), 500.f);  // channel 3 is in the first bucket
  const auto& h = j["heatmaps"][0];
  EXPECT_EQ(h["cell_cols"], 157);  // ceil(5000 / 32)
  EXPECT_EQ(h["col_step"], 32);    // ceil(5000 / 160)
  EXPECT_FLOAT_EQ(h["panels"][0]["max"].get<float>(), 500.f);
}

}  // namespace
}  // namespace duq::eval
