#include "calib/lwc.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/threads.h"

namespace duq::calib {

namespace {
inline float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
inline float clampf(float v, float lo, float hi) { return std::fmin(std::fmax(v, lo), hi); }

quant::QuantSpec row_spec(int bits) {
  quant::QuantSpec s;
  s.bits = bits;
  s.clip = 1.f;
  return s;
}

}  // namespace

quant::GroupParams lwc_grid(float xmin, float xmax, float u, float l, int bits) {
  const float qmax = static_cast<float>((1 << bits) - 1);
  const float hi = sigmoid(u) * xmax, lo = sigmoid(l) * xmin;
  quant::GroupParams p;
  p.scale = clampf((hi - lo) / qmax, quant::kMinScale, quant::kMaxScale);
  p.zero = static_cast<int32_t>(std::nearbyint(clampf(-lo / p.scale, -quant::kMaxScale, quant::kMaxScale)));
  return p;
}

quant::QuantizedMat lwc_quantize(ConstMatView w, const LwcRow& p, int bits) {
  DUQ_CHECK(static_cast<int64_t>(p.u.size()) == w.rows && static_cast<int64_t>(p.l.size()) == w.rows);
  quant::QuantizedMat q;
  q.rows = w.rows;
  q.cols = w.cols;
  q.spec = row_spec(bits);
  q.group = w.cols;
  q.groups_per_line = 1;
  q.codes.resize(static_cast<size_t>(w.rows * w.cols));
  q.params.resize(static_cast<size_t>(w.rows));
  parallel_ranges(w.rows, [&](int64_t r0, int64_t r1) {  // rows are independent
    for (int64_t r = r0; r < r1; ++r) {
      const auto [mn, mx] = std::minmax_element(w.row(r), w.row(r) + w.cols);
      const quant::GroupParams gp = lwc_grid(*mn, *mx, p.u[static_cast<size_t>(r)], p.l[static_cast<size_t>(r)], bits);
      q.params[static_cast<size_t>(r)] = gp;
      for (int64_t j = 0; j < w.cols; ++j)
        q.codes[static_cast<size_t>(r * w.cols + j)] = static_cast<uint8_t>(quant::quantize_value(w(r, j), gp, q.spec));
    }
  });
  return q;
}

void lwc_fake_quant(ConstMatView w, const LwcRow& p, int bits, MatView out) {
  const quant::QuantSpec spec = row_spec(bits);
  parallel_ranges(w.rows, [&](int64_t r0, int64_t r1) {  // rows are independent
    for (int64_t r = r0; r < r1; ++r) {
      const auto [mn, mx] = std::minmax_element(w.row(r), w.row(r) + w.cols);
      const quant::GroupParams gp = lwc_grid(*mn, *mx, p.u[static_cast<size_t>(r)], p.l[static_cast<size_t>(r)], bits);
      for (int64_t j = 0; j < w.cols; ++j)
        out(r, j) = quant::dequantize_value(quant::quantize_value(w(r, j), gp, spec), gp);
    }
  });
}

void lwc_grad(ConstMatView w, const LwcRow& p, int bits, ConstMatView g, std::span<float> gu, std::span<float> gl) {
  const float qmax = static_cast<float>((1 << bits) - 1);
  parallel_ranges(w.rows, [&](int64_t r0, int64_t r1) {  // rows are independent
    for (int64_t r = r0; r < r1; ++r) {
      const auto [mn, mx] = std::minmax_element(w.row(r), w.row(r) + w.cols);
      const float gam = sigmoid(p.u[static_cast<size_t>(r)]), bet = sigmoid(p.l[static_cast<size_t>(r)]);
      const float raw = (gam * *mx - bet * *mn) / qmax;
      gu[static_cast<size_t>(r)] = gl[static_cast<size_t>(r)] = 0.f;
      if (!(raw > quant::kMinScale && raw < quant::kMaxScale)) continue;  // clamped scale: no gradient
      const quant::GroupParams gp = lwc_grid(*mn, *mx, p.u[static_cast<size_t>(r)], p.l[static_cast<size_t>(r)], bits);
      const float z = static_cast<float>(gp.zero);
      double ds = 0;
      for (int64_t j = 0; j < w.cols; ++j) {
        const float uq = w(r, j) / gp.scale;
        const float c = std::nearbyint(uq) + z;
        const bool inside = c >= 0.f && c <= qmax;
        ds += double(g(r, j)) * ((clampf(c, 0.f, qmax) - z) - (inside ? uq : 0.f));
      }
      gu[static_cast<size_t>(r)] = static_cast<float>(ds * *mx / qmax * gam * (1 - gam));
      gl[static_cast<size_t>(r)] = static_cast<float>(-ds * *mn / qmax * bet * (1 - bet));
    }
  });
}

BlockParams<float> frozen_block_params(const model::ModelConfig& cfg, const model::LayerWeights& w,
                                       const SiteTransforms& sites, const Mat& head_rotation,
                                       const std::vector<float>& k_center) {
  BlockParams<float> p;
  p.attn_norm.assign(w.attn_norm.begin(), w.attn_norm.end());
  p.ffn_norm.assign(w.ffn_norm.begin(), w.ffn_norm.end());
  const int64_t widths[model::kNumSites] = {cfg.dim, cfg.q_dim(), cfg.dim, cfg.hidden_dim};
  for (int s = 0; s < model::kNumSites; ++s) {
    const SiteTransform& st = sites[static_cast<size_t>(s)];
    if (st.identity()) continue;
    const int64_t width = widths[s];
    Mat g(width, width);
    for (int64_t j = 0; j < width; ++j) g(j, j) = 1.f;
    st.apply(g);
    p.g[static_cast<size_t>(s)] = std::move(g);
  }
  if (head_rotation.size() > 0) p.head_rot = head_rotation;
  p.k_center = k_center;
  return p;
}

void set_block_weights(const model::LayerWeights& w, BlockParams<float>& p) {
  const Mat* ws[kNumLinears] = {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
  for (int i = 0; i < kNumLinears; ++i) p.w[static_cast<size_t>(i)] = *ws[i];
}

BlockQuantSpec block_quant_spec(const QuantOptions& o) {
  BlockQuantSpec qs;
  qs.abits = o.abits;
  qs.kv_bits = o.kv();
  qs.lac = o.lac;
  qs.qk_clip = o.qk_clip_ratio();
  return qs;
}

LwcResult lwc_train_block(const model::ModelConfig& cfg, const BlockQuantSpec& qs, const BlockParams<float>& fixed,
                          const std::array<const Mat*, kNumLinears>& w, const std::vector<Mat>& inputs,
                          const std::vector<Mat>& targets, const LwcOptions& opts) {
  DUQ_CHECK(inputs.size() == targets.size() && !inputs.empty(), "lwc_train_block: inputs and targets");
  LwcResult res;
  for (int i = 0; i < kNumLinears; ++i) res.rows[static_cast<size_t>(i)] = LwcRow(w[static_cast<size_t>(i)]->rows());
  BlockParams<float> p = fixed;
  for (int i = 0; i < kNumLinears; ++i)
    p.w[static_cast<size_t>(i)] = Mat(w[static_cast<size_t>(i)]->rows(), w[static_cast<size_t>(i)]->cols());
  // Adam state, per linear: [u, l] moments.
  struct Moments {
    std::vector<float> mu, vu, ml, vl;
  };
  std::array<Moments, kNumLinears> mom;
  for (int i = 0; i < kNumLinears; ++i) {
    const size_t o = static_cast<size_t>(w[static_cast<size_t>(i)]->rows());
    mom[static_cast<size_t>(i)] = {std::vector<float>(o), std::vector<float>(o), std::vector<float>(o),
                                   std::vector<float>(o)};
  }
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  std::array<Mat, kNumLinears> gw;
  std::vector<float> gu, gl;
  int64_t step = 0;
  // The forward's weights at the current clips (plus any fixed wide columns).
  auto set_weights = [&] {
    for (int i = 0; i < kNumLinears; ++i) {
      Mat& out = p.w[static_cast<size_t>(i)];
      lwc_fake_quant(*w[static_cast<size_t>(i)], res.rows[static_cast<size_t>(i)], opts.wbits, out.view());
      if (const Mat* add = opts.wide_part[static_cast<size_t>(i)])
        for (size_t k = 0; k < out.flat().size(); ++k) out.flat()[k] += add->flat()[k];
    }
  };
  // Mean loss over the windows at the current clips, no gradients.
  auto mean_loss = [&] {
    set_weights();
    // Windows in parallel, their losses added in window order (the same sum for any thread count).
    std::vector<double> loss(inputs.size());
    parallel_for(static_cast<int64_t>(inputs.size()), [&](int64_t n) {
      loss[static_cast<size_t>(n)] = block_loss_grad<float>(cfg, qs, p, inputs[static_cast<size_t>(n)],
                                                            targets[static_cast<size_t>(n)], nullptr, nullptr, nullptr);
    });
    double sum = 0;
    for (double l : loss) sum += l;
    return sum / static_cast<double>(inputs.size());
  };
  res.loss_first = mean_loss();
  for (int epoch = 0; epoch < opts.epochs; ++epoch) {
    const auto start_rows = res.rows;
    const auto start_mom = mom;
    bool bad = false;
    for (size_t n = 0; n < inputs.size() && !bad; ++n) {
      set_weights();
      const float loss = block_loss_grad<float>(cfg, qs, p, inputs[n], targets[n], nullptr, &gw, nullptr);
      if (!std::isfinite(loss)) {
        bad = true;
        break;
      }
      ++step;
      const float c1 = 1.f - std::pow(b1, static_cast<float>(step)), c2 = 1.f - std::pow(b2, static_cast<float>(step));
      for (int i = 0; i < kNumLinears; ++i) {
        const Mat& wi = *w[static_cast<size_t>(i)];
        LwcRow& r = res.rows[static_cast<size_t>(i)];
        Moments& m = mom[static_cast<size_t>(i)];
        gu.assign(static_cast<size_t>(wi.rows()), 0.f);
        gl.assign(static_cast<size_t>(wi.rows()), 0.f);
        lwc_grad(wi, r, opts.wbits, ConstMatView(gw[static_cast<size_t>(i)].data(), wi.rows(), wi.cols()), gu, gl);
        auto adam = [&](std::vector<float>& x, std::vector<float>& mm, std::vector<float>& vv,
                        const std::vector<float>& g) {
          for (size_t k = 0; k < x.size(); ++k) {
            mm[k] = b1 * mm[k] + (1 - b1) * g[k];
            vv[k] = b2 * vv[k] + (1 - b2) * g[k] * g[k];
            x[k] -= opts.lr * (mm[k] / c1) / (std::sqrt(vv[k] / c2) + eps);
            if (!std::isfinite(x[k])) bad = true;
          }
        };
        adam(r.u, m.mu, m.vu, gu);
        adam(r.l, m.ml, m.vl, gl);
      }
    }
    if (bad) {  // roll the epoch back and go on with the next one (the authors' script does not stop)
      res.rows = start_rows;
      mom = start_mom;
      ++res.nan_epochs;
    }
  }
  res.loss_last = mean_loss();
  res.steps = static_cast<int>(step);
  return res;
}

}  // namespace duq::calib
