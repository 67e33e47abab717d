// duquant inspect as a user runs it. A synthetic model with planted massive outliers at the
// down-projection input (a few tokens × a few channels, hundreds of times the typical value): the report's
// embedded numbers must show them and show DuQuant removing them (≥ 10× lower max |x|); the page must load
// in headless Chromium without errors, hold one figure per (block, input), per heat map and per error
// chart, and not screenshot blank. Skips without the assets (tokenizer, texts) or without Chromium.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "test_support.h"

namespace duq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kDim = 64, kHidden = 256, kLayers = 2, kVocab = 512;
// Planted, like the massive activations of real LLMs at delimiter tokens: the tokens "." and "!" of tok512
// (ids 426, 443; a few per window) carry 30 on residual channel 0 (every other token 0 there), and in every
// block the FFN channels below read channel 0 with weight 2.5 in both gate and up: for those tokens
// silu(g)·u ≈ (2.5 · 7.7)² ≈ 370 against O(1) elsewhere. Their down-projection columns are scaled by 0.01 so
// the outlier does not leak into the residual stream of the next block.
constexpr int kPlantedTokens[] = {426, 443};
constexpr int kPlantedChannels[] = {5, 77, 200};

fs::path assets() { return test::assets_dir(); }
bool have_assets() { return fs::exists(assets() / "models/stories260K/tok512.bin"); }

#define SKIP_WITHOUT_ASSETS() \
  if (!have_assets()) GTEST_SKIP() << "assets not found (" << assets() << ")"

// Edits F32 tensors of a safetensors file in place (header: u64 length + JSON; data offsets after it).
class SafetensorsEditor {
 public:
  explicit SafetensorsEditor(fs::path p) : path_(std::move(p)), bytes_(test::read_text(path_)) {
    uint64_t n = 0;
    std::memcpy(&n, bytes_.data(), 8);
    header_ = json::parse(bytes_.substr(8, n));
    data0_ = 8 + n;
  }
  // Element i of a row-major tensor (unaligned-safe access).
  float get(const std::string& name, size_t i) const {
    float v;
    std::memcpy(&v, bytes_.data() + offset(name, i), 4);
    return v;
  }
  void set(const std::string& name, size_t i, float v) { std::memcpy(bytes_.data() + offset(name, i), &v, 4); }
  void save() const { test::write_bytes(path_, bytes_); }

 private:
  size_t offset(const std::string& name, size_t i) const {
    const auto& e = header_.at(name);
    EXPECT_EQ(e.at("dtype"), "F32") << name;
    const size_t off = data0_ + e.at("data_offsets")[0].get<size_t>() + 4 * i;
    EXPECT_LT(off + 4, bytes_.size() + 1) << name;
    return off;
  }
  fs::path path_;
  std::string bytes_;
  json header_;
  size_t data0_ = 0;
};

std::string layer(int l, const char* what) { return "model.layers." + std::to_string(l) + "." + what + ".weight"; }

// build/…/m: a 2-block HF model (vocab of tok512) with the outliers planted.
fs::path planted_model(const fs::path& dir) {
  const fs::path out = dir / "m";
  auto r =
      test::run_command(test::cli_path().string() + " synth --out " + out.string() + " --dim " + std::to_string(kDim) +
                        " --hidden " + std::to_string(kHidden) + " --layers " + std::to_string(kLayers) +
                        " --heads 4 --vocab " + std::to_string(kVocab) + " --max-seq 128 --seed 11");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  SafetensorsEditor st(out / "model.safetensors");
  for (int v = 0; v < kVocab; ++v) st.set("model.embed_tokens.weight", static_cast<size_t>(v) * kDim, 0.f);
  for (int v : kPlantedTokens) st.set("model.embed_tokens.weight", static_cast<size_t>(v) * kDim, 30.f);
  for (int l = 0; l < kLayers; ++l)
    for (int k : kPlantedChannels) {
      st.set(layer(l, "mlp.gate_proj"), static_cast<size_t>(k) * kDim, 2.5f);
      st.set(layer(l, "mlp.up_proj"), static_cast<size_t>(k) * kDim, 2.5f);
      for (int o = 0; o < kDim; ++o) {
        const size_t i = static_cast<size_t>(o) * kHidden + static_cast<size_t>(k);
        st.set(layer(l, "mlp.down_proj"), i, 0.01f * st.get(layer(l, "mlp.down_proj"), i));
      }
    }
  st.save();
  return out;
}

json embedded_json(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"duquant-data\">";
  const size_t a = html.find(open);
  if (a == std::string::npos) return json();
  const size_t b = html.find("</script>", a);
  return json::parse(html.substr(a + open.size(), b - a - open.size()));
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

const json* find_stage(const json& site, const std::string& key) {
  for (const auto& s : site["stages"])
    if (s["key"] == key) return &s;
  return nullptr;
}

// One report for the suite: duquant figures, the four methods' errors, the compare table.
class InspectPlanted : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_assets()) return;
    dir_ = test::temp_dir("inspect_planted");
    const fs::path model = planted_model(dir_);
    html_path_ = dir_ / "report.html";
    const auto a = assets();
    run_ = test::run_command(
        test::cli_path().string() + " inspect --model " + model.string() + " --tokenizer " +
        (a / "models/stories260K/tok512.bin").string() + " --calib " + (a / "text/tinystories/calib.txt").string() +
        " --nsamples 2 --calib-ctx 128 --compare --text " + (a / "text/tinystories/eval.txt").string() +
        " --ctx 128 --max-windows 2 --quiet --out " + html_path_.string());
    if (run_.exit_code == 0) {
      html_ = test::read_text(html_path_);
      data_ = embedded_json(html_);
    }
  }
  void SetUp() override {
    SKIP_WITHOUT_ASSETS();
    ASSERT_EQ(run_.exit_code, 0) << run_.err;
  }
  static inline fs::path dir_, html_path_;
  static inline test::CommandResult run_;
  static inline std::string html_;
  static inline json data_;
};

TEST_F(InspectPlanted, PrintsWhatItWrote) {
  EXPECT_NE(run_.out.find("wrote " + html_path_.string()), std::string::npos) << run_.out;
  EXPECT_NE(run_.out.find("block 1 down-projection input: max |x|"), std::string::npos) << run_.out;
  EXPECT_EQ(data_["method"], "duquant");
  EXPECT_EQ(data_["n_layers"], kLayers);
}

TEST_F(InspectPlanted, DownInputOutliersAreMassiveBeforeAndTenfoldLowerAfterDuQuant) {
  int seen = 0;
  for (const auto& site : data_["sites"]) {
    if (site["site"] != "down_in") continue;
    ++seen;
    const int l = site["layer"];
    EXPECT_EQ(site["channels"], kHidden);
    EXPECT_EQ(site["bucket"], 1);  // every channel drawn
    EXPECT_EQ(site["log_y"], true) << "magnitudes span orders: the figure must use a log axis";
    const json* raw = find_stage(site, "raw");
    const json* after = find_stage(site, "after");
    ASSERT_TRUE(raw && after) << site.dump();
    ASSERT_TRUE(find_stage(site, "smoothed") && find_stage(site, "rot1") && find_stage(site, "perm"));
    // The planted channels hold the largest values, hundreds of times the median channel.
    std::vector<float> v = (*raw)["values"].get<std::vector<float>>();
    ASSERT_EQ(v.size(), static_cast<size_t>(kHidden));
    const float mx = (*raw)["max"];
    EXPECT_FLOAT_EQ(*std::max_element(v.begin(), v.end()), mx);
    for (int k : kPlantedChannels) EXPECT_GT(v[static_cast<size_t>(k)], 0.5f * mx) << "block " << l << " channel " << k;
    std::nth_element(v.begin(), v.begin() + kHidden / 2, v.end());
    EXPECT_GT(mx, 100.f * v[kHidden / 2]) << "block " << l << ": planted outliers are not massive";
    // DuQuant: ≥ 10× lower max |x| at the down-projection input.
    const float after_max = (*after)["max"];
    EXPECT_GE(mx / after_max, 10.f) << "block " << l << ": " << mx << " → " << after_max;
    // …and the rotations add to what smoothing alone does.
    EXPECT_LT(after_max, find_stage(site, "smoothed")->at("max").get<float>()) << "block " << l;
  }
  EXPECT_EQ(seen, kLayers);

  ASSERT_EQ(data_["heatmaps"].size(), static_cast<size_t>(kLayers));
  for (const auto& h : data_["heatmaps"]) {
    EXPECT_EQ(h["tokens"], 128);
    EXPECT_EQ(h["channels"], kHidden);
    ASSERT_EQ(h["panels"].size(), 3u);  // before smoothing, after smoothing, after DuQuant
    const auto& before = h["panels"][0];
    const auto& after = h["panels"].back();
    EXPECT_EQ(before["key"], "raw");
    EXPECT_EQ(after["key"], "after");
    EXPECT_GE(before["max"].get<float>() / after["max"].get<float>(), 10.f) << h.dump();
    // Massive outliers live in a few tokens: most rows of the "before" raster stay far below the max.
    const auto rows = before["token_max"].get<std::vector<float>>();
    const float mx = before["max"];
    const auto hot = std::count_if(rows.begin(), rows.end(), [mx](float r) { return r > 0.1f * mx; });
    EXPECT_GE(hot, 1);
    EXPECT_LE(hot, static_cast<long>(rows.size() / 3)) << "outliers should sit in a few tokens";
    // The same numbers as the stage figure of that block's down-projection input.
    for (const auto& site : data_["sites"])
      if (site["site"] == "down_in" && site["layer"] == h["layer"]) {
        EXPECT_FLOAT_EQ(find_stage(site, "after")->at("max").get<float>(), after["max"].get<float>());
        EXPECT_NEAR(find_stage(site, "raw")->at("max").get<float>(), mx, 1e-3f * mx);
      }
  }
}

TEST_F(InspectPlanted, ErrorTableHasEveryMethodAndTheCompareTable) {
  const auto& e = data_["errors"];
  EXPECT_EQ(e["methods"], (std::vector<std::string>{"rtn", "smoothquant", "rotation", "duquant"}));
  EXPECT_EQ(e["sites"], (std::vector<std::string>{"attn_in", "attn_out", "ffn_in", "down_in"}));
  ASSERT_EQ(e["values"].size(), 4u);
  for (const auto& m : e["values"]) {
    ASSERT_EQ(m.size(), static_cast<size_t>(kLayers));
    for (const auto& l : m) {
      ASSERT_EQ(l.size(), 4u);
      for (double v : l) {
        EXPECT_TRUE(std::isfinite(v));
        EXPECT_GT(v, 0.0);
      }
    }
  }
  // With massive outliers at the down-projection input, DuQuant's error there is below RTN's.
  for (int l = 0; l < kLayers; ++l)
    EXPECT_LT(e["values"][3][l][3].get<double>(), e["values"][0][l][3].get<double>()) << "block " << l;
  const auto& rows = data_["compare"]["rows"];
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0]["method"], "fp");
  for (const auto& r : rows) EXPECT_TRUE(std::isfinite(r["ppl"].get<double>()) && r["ppl"].get<double>() > 1.0);
  EXPECT_EQ(count(html_, "<figure class=\"table compare\""), 1u);
}

// Chromium from PATH (or $DUQUANT_CHROMIUM); empty when absent.
std::string chromium() {
  if (const char* e = std::getenv("DUQUANT_CHROMIUM"); e && *e) return e;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    auto r = test::run_command(std::string("command -v ") + name);
    if (r.exit_code == 0 && !r.out.empty()) return r.out.substr(0, r.out.find('\n'));
  }
  return "";
}

std::string chromium_cmd(const std::string& exe, const fs::path& profile) {
  return "timeout 120 " + exe +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --hide-scrollbars --enable-logging=stderr --v=0"
         " --user-data-dir=" +
         profile.string() + " ";
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint8_t(s[at + 3]);
}

TEST_F(InspectPlanted, RendersInHeadlessChromium) {
  const std::string exe = chromium();
  if (exe.empty())
    GTEST_SKIP() << "chromium not installed (Debian: apt-get install chromium); report at " << html_path_;
  const std::string url = "file://" + fs::absolute(html_path_).string();

  // 1. The DOM after the page's scripts ran: the embedded JSON parsed in the browser, every figure there.
  auto dom = test::run_command(chromium_cmd(exe, dir_ / "profile-dom") + "--dump-dom " + url);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const size_t figures = 4 * kLayers + kLayers + 4;  // stage figures, heat maps, error charts
  EXPECT_NE(dom.out.find("data-duq-json=\"ok\""), std::string::npos) << dom.out.substr(0, 400);
  EXPECT_NE(dom.out.find("data-duq-figures=\"" + std::to_string(figures) + "\""), std::string::npos);
  EXPECT_EQ(count(dom.out, "<figure class=\"chart"), figures);
  EXPECT_EQ(count(dom.out, "<svg class=\"stage\""), 4u * kLayers);
  EXPECT_EQ(count(dom.out, "<svg class=\"heat\""), static_cast<size_t>(kLayers));
  // No console errors (the page logs only when something fails) and nothing fetched from the network.
  EXPECT_EQ(dom.err.find(":CONSOLE("), std::string::npos) << dom.err;
  EXPECT_EQ(dom.err.find("Uncaught"), std::string::npos) << dom.err;
  EXPECT_EQ(dom.err.find("net::ERR_"), std::string::npos) << dom.err;

  // 2. A screenshot next to the build outputs, compared with one of a blank page of the same size.
  const fs::path shot = test::cli_path().parent_path() / "inspect-planted.png";
  const fs::path blank_html = dir_ / "blank.html", blank_shot = dir_ / "blank.png";
  test::write_bytes(blank_html, "<!DOCTYPE html><html><body></body></html>");
  fs::remove(shot);
  auto r = test::run_command(chromium_cmd(exe, dir_ / "profile-shot") +
                             "--window-size=1280,2400 --screenshot=" + shot.string() + " " + url);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto b = test::run_command(chromium_cmd(exe, dir_ / "profile-blank") + "--window-size=1280,2400 --screenshot=" +
                             blank_shot.string() + " file://" + fs::absolute(blank_html).string());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_TRUE(fs::exists(shot)) << r.err;
  const std::string png = test::read_text(shot), blank = test::read_text(blank_shot);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 1280u);
  EXPECT_EQ(be32(png, 20), 2400u);
  // A page of text, lines and heat maps compresses far worse than a uniform one.
  EXPECT_GT(png.size(), 10 * blank.size()) << "screenshot " << png.size() << " bytes vs blank " << blank.size();
  std::printf("screenshot: %s (%zu bytes; blank page %zu bytes)\n", shot.c_str(), png.size(), blank.size());
}

TEST(InspectCli, RejectsBadArgumentsWithOneLine) {
  SKIP_WITHOUT_ASSETS();
  const auto a = assets();
  const std::string base = test::cli_path().string() + " inspect --model " +
                           (a / "models/stories260K/stories260K.bin").string() + " --calib " +
                           (a / "text/tinystories/calib.txt").string() + " --nsamples 2 --quiet --out " +
                           (test::temp_dir("inspect_bad") / "r.html").string();
  struct Case {
    std::string args, must;
  } cases[] = {
      {" --layers 0,9", "--layers"}, {" --layers x", "--layers"}, {" --method fp", "no transform"},
      {" --method nope", "nope"},    {" --compare", "--text"},    {" --bits W4", "W4"},
  };
  for (const auto& c : cases) {
    auto r = test::run_command(base + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.must), std::string::npos) << c.args << ": " << r.err;
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 2) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find("internal check"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(test::temp_dir("inspect_bad") / "r.html"));
}

}  // namespace
}  // namespace duq
