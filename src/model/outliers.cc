#include "model/outliers.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/rng.h"

namespace duq::model {

namespace {

double silu(double x) { return x / (1.0 + std::exp(-x)); }

// `count` distinct values from [0, n) not in `exclude`, drawn from rng, sorted.
std::vector<int> draw_distinct(Rng& rng, int n, int count, const std::set<int>& exclude) {
  std::set<int> got;
  while (static_cast<int>(got.size()) < count) {
    const int v = static_cast<int>(rng.below(static_cast<uint64_t>(n)));
    if (!exclude.count(v)) got.insert(v);
  }
  return {got.begin(), got.end()};
}

// Median of |silu(σg)·σu| for independent standard normal g, u (fixed-seed Monte Carlo, 40001 samples).
double median_swiglu(double sigma) {
  Rng rng(0x5eed5eedULL);
  std::vector<double> v(40001);
  for (double& x : v) {
    const double g = sigma * rng.normal(), u = sigma * rng.normal();
    x = std::fabs(silu(g) * u);
  }
  std::nth_element(v.begin(), v.begin() + 20000, v.end());
  return v[20000];
}

// G > 0 with silu(G)·G = target (increasing in G on G > 0).
double solve_gate(double target) {
  double lo = 0, hi = 1;
  while (silu(hi) * hi < target) hi *= 2;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (silu(mid) * mid < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

void scale_column(Mat& m, int64_t col, float f) {
  for (int64_t r = 0; r < m.rows(); ++r) m(r, col) *= f;
}
void scale_row(Mat& m, int64_t row, float f) {
  for (int64_t j = 0; j < m.cols(); ++j) m(row, j) *= f;
}

}  // namespace

void OutlierSpec::validate(const ModelConfig& c) const {
  if (channels < 0) fail("outliers: --outlier-channels must be ≥ 0 (got ", channels, ")");
  if (channels > 0) {
    if (!(scale > 0) || !std::isfinite(scale)) fail("outliers: --outlier-scale must be > 0 (got ", scale, ")");
    const int widest_needed = 4 * channels + 1;
    if (widest_needed > c.dim || widest_needed > c.kv_dim() || widest_needed > c.hidden_dim)
      fail("outliers: ", channels, " outlier channels do not fit a model of dim ", c.dim, ", kv ", c.kv_dim(),
           ", hidden ", c.hidden_dim, " (at most a quarter of the narrowest input)");
  }
  if (!(weight_compensation >= 0 && weight_compensation <= 1))
    fail("outliers: weight compensation γ must be in [0, 1] (got ", weight_compensation, ")");
  if (!massive_tokens.empty()) {
    if (!(massive_scale > 0) || !std::isfinite(massive_scale))
      fail("outliers: --massive-scale must be > 0 (got ", massive_scale, ")");
    if (!(massive_residual > 0) || !std::isfinite(massive_residual))
      fail("outliers: massive residual ratio must be > 0 (got ", massive_residual, ")");
    for (int id : massive_tokens)
      if (id < 0 || id >= c.vocab_size)
        fail("outliers: massive token id ", id, " is outside the vocabulary (0 … ", c.vocab_size - 1, ")");
  }
}

std::string OutlierSpec::describe() const {
  std::ostringstream os;
  if (channels > 0) os << "normal " << channels << " ch x" << scale << " (gamma " << weight_compensation << ")";
  else os << "no normal outliers";
  if (!massive_tokens.empty()) {
    os << ", massive tokens ";
    for (size_t i = 0; i < massive_tokens.size(); ++i) os << (i ? "," : "") << massive_tokens[i];
    os << " x" << massive_scale;
  }
  os << ", seed " << seed;
  return os.str();
}

std::vector<int> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<int> ids;
  std::string item;
  std::istringstream is(text);
  while (std::getline(is, item, ',')) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < 0 || v > 0x7fffffff)
      fail(what, ": expected comma-separated non-negative token ids, got '", text, "'");
    ids.push_back(static_cast<int>(v));
  }
  if (ids.empty()) fail(what, ": expected comma-separated non-negative token ids, got '", text, "'");
  return ids;
}

std::vector<std::vector<int>> trigger_windows(int count, int length, int vocab, int bos,
                                              const std::vector<int>& triggers, double rate, uint64_t seed) {
  if (count < 1 || length < 1) fail("trigger_windows: need at least one window of one token");
  std::set<int> trig(triggers.begin(), triggers.end());
  trig.insert(bos);
  if (static_cast<int>(trig.size()) >= vocab)
    fail("trigger_windows: no ordinary tokens left in a vocabulary of ", vocab);
  for (int t : triggers)
    if (t < 0 || t >= vocab) fail("trigger_windows: trigger id ", t, " is outside the vocabulary");
  Rng rng(seed * 0xd1b54a32d192ed03ULL + 0x77696e646f7773ULL);
  std::vector<std::vector<int>> w(static_cast<size_t>(count), std::vector<int>(static_cast<size_t>(length)));
  for (auto& win : w) {
    win[0] = bos;
    for (size_t i = 1; i < win.size(); ++i) {
      if (!triggers.empty() && rng.uniform() < rate) {
        win[i] = triggers[rng.below(triggers.size())];
      } else {
        int v;
        do v = static_cast<int>(rng.below(static_cast<uint64_t>(vocab)));
        while (trig.count(v));
        win[i] = v;
      }
    }
  }
  return w;
}

OutlierPlan plant_outliers(const ModelConfig& c, ModelWeights& w, const OutlierSpec& spec) {
  spec.validate(c);
  DUQ_CHECK(static_cast<int>(w.layers.size()) == c.n_layers, "plant_outliers: weights do not match the config");
  OutlierPlan plan;
  Rng rng(spec.seed * 0x9e3779b97f4a7c15ULL + 0x6f75746c69657273ULL);  // "outliers"
  const int D = c.dim, H = c.hidden_dim, hd = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  const bool massive = !spec.massive_tokens.empty();
  if (massive) plan.massive_channel = static_cast<int>(rng.below(static_cast<uint64_t>(D)));

  // (a) normal outliers
  if (spec.channels > 0 && spec.scale != 1.f) {
    const float k = spec.scale, comp = std::pow(spec.scale, -spec.weight_compensation);
    std::set<int> excl;
    if (massive) excl.insert(plan.massive_channel);
    plan.residual_channels = draw_distinct(rng, D, spec.channels, excl);
    plan.v_rows = draw_distinct(rng, c.kv_dim(), spec.channels, {});
    plan.hidden_channels = draw_distinct(rng, H, spec.channels, {});
    for (auto& L : w.layers) {
      for (int j : plan.residual_channels) {
        if (spec.at_attn_in) {
          L.attn_norm[static_cast<size_t>(j)] *= k;
          if (comp != 1.f)
            for (Mat* m : {&L.wq, &L.wk, &L.wv}) scale_column(*m, j, comp);
        }
        if (spec.at_ffn_in) {
          L.ffn_norm[static_cast<size_t>(j)] *= k;
          if (comp != 1.f)
            for (Mat* m : {&L.w_gate, &L.w_up}) scale_column(*m, j, comp);
        }
      }
      if (spec.at_attn_out)
        for (int r : plan.v_rows) {
          scale_row(L.wv, r, k);
          // Attention output channel of query head h at offset d reads KV head h / group, offset d.
          if (comp != 1.f) {
            const int kvh = r / hd, d = r % hd;
            for (int h = kvh * group; h < (kvh + 1) * group; ++h) scale_column(L.wo, h * hd + d, comp);
          }
        }
      if (spec.at_down_in)
        for (int h : plan.hidden_channels) {
          scale_row(L.w_up, h, k);
          if (comp != 1.f) scale_column(L.w_down, h, comp);
        }
    }
  }

  // (b) massive outliers
  if (massive) {
    const int ch = plan.massive_channel;
    std::set<int> trig(spec.massive_tokens.begin(), spec.massive_tokens.end());
    const double a = spec.massive_residual;
    double xi_sum = 0;
    for (int v = 0; v < c.vocab_size; ++v) {
      if (!trig.count(v)) {
        w.embed(v, ch) = 0.f;
        continue;
      }
      double rest = 0;
      for (int j = 0; j < D; ++j)
        if (j != ch) rest += double(w.embed(v, j)) * w.embed(v, j);
      rest = std::sqrt(rest);
      w.embed(v, ch) = static_cast<float>(a * rest);
      // xn_c = x_c / rms(x) with the layer-0 attention norm weight at c (1 unless planted).
      xi_sum += a * rest / std::sqrt((a * a * rest * rest + rest * rest) / D);
    }
    plan.xi = xi_sum / static_cast<double>(trig.size());
    std::set<int> excl(plan.hidden_channels.begin(), plan.hidden_channels.end());
    for (auto& L : w.layers) {
      // No block writes into the reserved channel.
      for (int64_t j = 0; j < L.wo.cols(); ++j) L.wo(ch, j) = 0.f;
      for (int64_t j = 0; j < L.w_down.cols(); ++j) L.w_down(ch, j) = 0.f;
      double s2 = 0;
      for (float g : L.ffn_norm) s2 += double(g) * g;
      const double sigma = std::sqrt(s2 / D);
      const double m = median_swiglu(sigma);
      const double G = solve_gate(spec.massive_scale * m);
      const double xi = plan.xi * L.ffn_norm[static_cast<size_t>(ch)];
      const int hstar = draw_distinct(rng, H, 1, excl).front();
      excl.insert(hstar);
      // h* is a dedicated detector: its gate/up rows read only c (0 for ordinary tokens, so act_h* = 0 there).
      for (int64_t j = 0; j < D; ++j) L.w_gate(hstar, j) = L.w_up(hstar, j) = 0.f;
      L.w_gate(hstar, ch) = static_cast<float>(G / xi);
      L.w_up(hstar, ch) = static_cast<float>(G / xi);
      plan.massive_hidden.push_back(hstar);
      plan.gate_value = G;
      plan.median_act = m;
    }
  }
  return plan;
}

}  // namespace duq::model
