#include "calib/auto_select.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "calib/options.h"
#include "calib/sim_quant.h"
#include "calib/wide_channels.h"
#include "core/error.h"
#include "core/threads.h"
#include "kernels/gemm_f32.h"

namespace duq::calib {

quant::QuantizedMat quantize_rows_best_clip(ConstMatView w, std::span<const double> col_weight, int bits,
                                            std::span<const float> grid, std::vector<float>* chosen) {
  DUQ_CHECK(static_cast<int64_t>(col_weight.size()) == w.cols && !grid.empty());
  quant::QuantizedMat q;
  q.rows = w.rows;
  q.cols = w.cols;
  q.spec.bits = bits;
  q.group = w.cols;
  q.groups_per_line = 1;
  q.codes.resize(static_cast<size_t>(w.rows * w.cols));
  q.params.resize(static_cast<size_t>(w.rows));
  if (chosen) chosen->assign(static_cast<size_t>(w.rows), 1.f);
  // Rows are independent: split over the threads.
  parallel_ranges(w.rows, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float lo = w(i, 0), hi = w(i, 0);
      for (int64_t k = 1; k < w.cols; ++k) lo = std::min(lo, w(i, k)), hi = std::max(hi, w(i, k));
      double best = std::numeric_limits<double>::infinity();
      for (float c : grid) {
        quant::QuantSpec s = q.spec;
        s.clip = c;
        const quant::GroupParams p = quant::group_params(lo, hi, s);
        double e = 0;
        for (int64_t k = 0; k < w.cols; ++k) {
          const double d = double(w(i, k)) - quant::dequantize_value(quant::quantize_value(w(i, k), p, s), p);
          e += col_weight[static_cast<size_t>(k)] * d * d;
        }
        if (e < best) {  // strict: ties keep the larger ratio (earlier in the grid)
          best = e;
          q.params[static_cast<size_t>(i)] = p;
          if (chosen) (*chosen)[static_cast<size_t>(i)] = c;
        }
      }
      const quant::GroupParams p = q.params[static_cast<size_t>(i)];
      for (int64_t k = 0; k < w.cols; ++k)
        q.codes[static_cast<size_t>(i * w.cols + k)] = static_cast<uint8_t>(quant::quantize_value(w(i, k), p, q.spec));
    }
  });
  return q;
}

namespace {

// Σ_jk d_j·H_jk·d_k for one row's error d = w − ŵ (the row's share of ½·tr(ΔW·H·ΔWᵀ), times 2).
double row_error(const quant::Hessian& h, const float* w, const float* wh, std::vector<double>& d) {
  const int64_t n = h.dim();
  for (int64_t j = 0; j < n; ++j) d[static_cast<size_t>(j)] = double(w[j]) - wh[j];
  double e = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (d[static_cast<size_t>(j)] == 0) continue;
    const double* hj = h.data().data() + j * n;
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += hj[k] * d[static_cast<size_t>(k)];
    e += d[static_cast<size_t>(j)] * s;
  }
  return e;
}

}  // namespace

int gptq_rows_best_clip(ConstMatView w, const quant::Hessian& h, int bits, std::span<const float> grid,
                        const quant::GptqOptions& opts, quant::QuantizedMat& q, std::vector<float>& clips) {
  DUQ_CHECK(q.rows == w.rows && q.cols == w.cols && static_cast<int64_t>(clips.size()) == w.rows &&
            q.groups_per_line == 1 && q.spec.axis == quant::Axis::kRow);
  const int64_t O = w.rows, D = w.cols;
  std::vector<double> best(static_cast<size_t>(O));
  Mat deq(O, D);
  quant::dequantize(q, deq);
  // Per-row errors, rows split over the threads (each row's sum in its own fixed order).
  auto row_errors = [&](std::vector<double>& out) {
    parallel_ranges(O, [&](int64_t r0, int64_t r1) {
      std::vector<double> d(static_cast<size_t>(D));
      for (int64_t r = r0; r < r1; ++r) out[static_cast<size_t>(r)] = row_error(h, w.row(r), deq.row(r), d);
    });
  };
  row_errors(best);
  std::vector<double> err(static_cast<size_t>(O));
  std::vector<char> from_gptq(static_cast<size_t>(O), 0);
  quant::QuantSpec spec;
  spec.bits = bits;
  for (float c : grid) {
    quant::GptqOptions go = opts;
    go.row_clip.assign(static_cast<size_t>(O), c);
    const quant::QuantizedMat g = quant::gptq_quantize(w, h, spec, go);
    quant::dequantize(g, deq);
    row_errors(err);
    for (int64_t r = 0; r < O; ++r) {
      const double e = err[static_cast<size_t>(r)];
      if (e >= best[static_cast<size_t>(r)]) continue;
      best[static_cast<size_t>(r)] = e;
      from_gptq[static_cast<size_t>(r)] = 1;
      clips[static_cast<size_t>(r)] = c;
      q.params[static_cast<size_t>(r)] = g.params[static_cast<size_t>(r)];
      std::copy_n(g.codes.begin() + r * D, D, q.codes.begin() + r * D);
    }
  }
  return static_cast<int>(std::count(from_gptq.begin(), from_gptq.end(), 1));
}

AutoResult auto_select(ConstMatView x_in, const std::vector<const Mat*>& weights,
                       const std::vector<AutoCandidate>& cands, int wbits, int abits, const AutoGrid& grid,
                       const quant::GptqOptions* gptq, int wide_channels) {
  if (cands.empty()) fail("auto_select: no candidate transforms");
  DUQ_CHECK(!weights.empty() && x_in.rows > 0);
  for (const Mat* w : weights)
    DUQ_CHECK(w->cols() == x_in.cols, "auto_select: weight width ", w->cols(), " != input ", x_in.cols);
  // Every token counts alike: rows scaled to unit norm, so the squared errors below are relative per token.
  // Without this a few massive-outlier tokens (attention sinks, 100–1000× the others) dominate the sums and
  // the clips are chosen for them. Per-token activation quantization is scale-invariant, so the scaled rows
  // quantize exactly like the originals, scaled.
  Mat x(x_in);
  for (int64_t t = 0; t < x.rows(); ++t) {
    double n2 = 0;
    for (int64_t k = 0; k < x.cols(); ++k) n2 += double(x(t, k)) * x(t, k);
    if (n2 > 0)
      for (int64_t k = 0; k < x.cols(); ++k) x(t, k) = static_cast<float>(x(t, k) / std::sqrt(n2));
  }
  // Float reference outputs X·W_iᵀ (any transform G cancels in (X·G)(W·G⁻ᵀ)ᵀ).
  std::vector<Mat> ref;
  double ref_norm = 0;
  for (const Mat* w : weights) {
    ref.emplace_back(x.rows(), w->rows());
    kernels::matmul_xwt(x, *w, ref.back());
    for (float v : ref.back().flat()) ref_norm += double(v) * v;
  }
  ref_norm = std::max(ref_norm, 1e-30);
  const std::vector<float> one_clip = {1.f};
  const std::vector<float>& act_grid = abits == kNoQuant ? one_clip : grid.act_clips;

  AutoResult res;
  double best = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < cands.size(); ++c) {
    const SiteTransform& st = cands[c].st;
    Mat xc(x);
    st.apply(xc);
    const std::vector<int32_t> wide = wide_channels > 0 ? widest_columns(xc, wide_channels) : std::vector<int32_t>{};
    res.wide.push_back(wide);
    std::vector<double> colw(static_cast<size_t>(x.cols()), 0.0);  // E[(x·G)_k²]
    for (int64_t t = 0; t < xc.rows(); ++t)
      for (int64_t k = 0; k < xc.cols(); ++k) colw[static_cast<size_t>(k)] += double(xc(t, k)) * xc(t, k);
    std::optional<quant::Hessian> h;
    if (gptq && wbits != kNoQuant) {
      h.emplace(x.cols());
      h->add(xc);
      h->drop_channels(wide);
    }
    std::vector<Mat> wq;
    std::vector<quant::QuantizedMat> codes, wide_codes;
    std::vector<std::vector<float>> clips(weights.size());
    int kept = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      wq.emplace_back(*weights[i]);
      st.fold_weight(wq.back());
      if (wbits == kNoQuant) continue;
      std::vector<Mat> held;
      if (!wide.empty()) held = take_wide_columns({&wq.back()}, wide);
      const Mat folded = wq.back();
      codes.push_back(quantize_rows_best_clip(folded, colw, wbits, grid.weight_clips, &clips[i]));
      quant::dequantize(codes.back(), wq.back());
      if (h) {
        kept += gptq_rows_best_clip(folded, *h, wbits, grid.gptq_clips, *gptq, codes.back(), clips[i]);
        quant::dequantize(codes.back(), wq.back());
      }
      if (!wide.empty()) {
        wide_codes.push_back(quantize_wide_columns(held[0]));
        apply_wide_codes(codes.back(), wide_codes.back(), wide, wq.back());
      }
    }
    double cand_best = std::numeric_limits<double>::infinity();
    float cand_clip = 1.f;
    Mat xq(xc.rows(), xc.cols()), y;
    for (float ac : act_grid) {
      std::copy(xc.flat().begin(), xc.flat().end(), xq.flat().begin());
      if (abits != kNoQuant && !wide.empty()) {
        fake_quant_split(xq, wide, abits, ac);
      } else if (abits != kNoQuant) {
        quant::QuantSpec s;
        s.bits = abits;
        s.clip = ac;
        quant::fake_quant(xq, s);
      }
      double err = 0;
      for (size_t i = 0; i < weights.size(); ++i) {
        y = Mat(xq.rows(), wq[i].rows());
        kernels::matmul_xwt(xq, wq[i], y);
        const float* r = ref[i].data();
        for (int64_t k = 0; k < y.size(); ++k) {
          const double d = double(y.data()[k]) - r[k];
          err += d * d;
        }
      }
      if (err < cand_best) cand_best = err, cand_clip = ac;
    }
    res.rel_error.push_back(std::sqrt(cand_best / ref_norm));
    res.best_act_clip.push_back(cand_clip);
    if (cand_best < best) {
      best = cand_best;
      res.chosen = c;
      res.act_clip = cand_clip;
      res.codes = std::move(codes);
      res.wide_codes = std::move(wide_codes);
      res.row_clip = std::move(clips);
      res.gptq_rows = kept;
    }
  }
  return res;
}

QkClipResult choose_qk_clip(const std::vector<std::pair<Mat, Mat>>& qk, int head_dim, int n_heads, int n_kv_heads,
                            int qbits, int kbits, const AutoGrid& grid) {
  DUQ_CHECK(!qk.empty() && !grid.qk_clips.empty() && n_heads % n_kv_heads == 0);
  const int group = n_heads / n_kv_heads;
  // Σ over causal pairs of (a_t·b_s − ref) or of ref² (when a, b are null).
  auto logit_error = [&](const Mat& q, const Mat& k, const Mat* qh, const Mat* kh) {
    double e = 0;
    for (int h = 0; h < n_heads; ++h) {
      const int64_t qo = int64_t(h) * head_dim, ko = int64_t(h / group) * head_dim;
      for (int64_t t = 0; t < q.rows(); ++t)
        for (int64_t s = 0; s <= t; ++s) {
          double ref = 0, got = 0;
          for (int d = 0; d < head_dim; ++d) {
            ref += double(q(t, qo + d)) * k(s, ko + d);
            if (qh) got += double((*qh)(t, qo + d)) * (*kh)(s, ko + d);
          }
          e += qh ? (got - ref) * (got - ref) : ref * ref;
        }
    }
    return e;
  };
  // Each (head, token) row scaled to unit norm (per-row quantization is scale-invariant): every logit counts
  // relative to its own size, so the few massive tokens do not choose the clip for all.
  auto unit_rows = [&](const Mat& m) {
    Mat u(m);
    for (int64_t t = 0; t < u.rows(); ++t)
      for (int64_t h0 = 0; h0 < u.cols(); h0 += head_dim) {
        double n2 = 0;
        for (int d = 0; d < head_dim; ++d) n2 += double(u(t, h0 + d)) * u(t, h0 + d);
        if (n2 > 0)
          for (int d = 0; d < head_dim; ++d) u(t, h0 + d) = static_cast<float>(u(t, h0 + d) / std::sqrt(n2));
      }
    return u;
  };
  std::vector<std::pair<Mat, Mat>> unit;
  unit.reserve(qk.size());
  for (const auto& [q, k] : qk) unit.emplace_back(unit_rows(q), unit_rows(k));
  double norm = 0;
  for (const auto& [q, k] : unit) norm += logit_error(q, k, nullptr, nullptr);
  norm = std::max(norm, 1e-30);
  QkClipResult res;
  double best = std::numeric_limits<double>::infinity();
  for (float c : grid.qk_clips) {
    double e = 0;
    for (const auto& [q, k] : unit) {
      Mat qh(q), kh(k);
      quantize_heads(qh, head_dim, qbits, c);
      quantize_heads(kh, head_dim, kbits, c);
      e += logit_error(q, k, &qh, &kh);
    }
    res.rel_error.push_back(std::sqrt(e / norm));
    if (e < best) best = e, res.clip = c;
  }
  return res;
}

}  // namespace duq::calib
