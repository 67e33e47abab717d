#include "calib/pipeline.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "calib/adadim_module.h"
#include "calib/auto_select.h"
#include "calib/gptq_sites.h"
#include "calib/learned_rotation.h"
#include "calib/lwc.h"
#include "calib/norm_tweak.h"
#include "calib/smoothing_fold.h"
#include "core/error.h"
#include "core/progress.h"
#include "kernels/gemm_f32.h"
#include "model/rope_freq.h"
#include "quant/adadim.h"
#include "quant/gptq.h"
#include "transform/block_rotation.h"
#include "transform/smoothing.h"
#include "transform/zigzag.h"

namespace duq::calib {

using model::Site;

namespace {

// Collects per-channel max |x| at the four linear inputs of one block (FP statistics).
class AbsMaxHook : public model::ForwardHooks {
 public:
  std::array<std::vector<float>, model::kNumSites> absmax;
  void linear_input(int, Site site, MatView x) override {
    auto& m = absmax[static_cast<size_t>(site)];
    if (m.empty()) m.assign(static_cast<size_t>(x.cols), 0.f);
    for (int64_t t = 0; t < x.rows; ++t)
      for (int64_t j = 0; j < x.cols; ++j) m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs(x(t, j)));
  }
};

std::vector<float> column_absmax(ConstMatView x) {
  std::vector<float> m(static_cast<size_t>(x.cols), 0.f);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t j = 0; j < x.cols; ++j) m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs(x(t, j)));
  return m;
}

// The consumers of each site, in ModelWeights order.
std::vector<Mat*> consumers(model::LayerWeights& w, Site s) {
  switch (s) {
    case Site::AttnIn: return {&w.wq, &w.wk, &w.wv};
    case Site::AttnOut: return {&w.wo};
    case Site::FfnIn: return {&w.w_gate, &w.w_up};
    case Site::DownIn: return {&w.w_down};
  }
  return {};
}
std::vector<std::optional<quant::QuantizedMat>*> code_slots(LayerCodes& c, Site s) {
  switch (s) {
    case Site::AttnIn: return {&c.wq, &c.wk, &c.wv};
    case Site::AttnOut: return {&c.wo};
    case Site::FfnIn: return {&c.w_gate, &c.w_up};
    case Site::DownIn: return {&c.w_down};
  }
  return {};
}

// The seven linears and their code slots in ModelWeights order (block_grad.h's LinearIndex).
std::array<Mat*, kNumLinears> linears(model::LayerWeights& w) {
  return {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
}
std::array<std::optional<quant::QuantizedMat>*, kNumLinears> linear_codes(LayerCodes& c) {
  return {&c.wq, &c.wk, &c.wv, &c.wo, &c.w_gate, &c.w_up, &c.w_down};
}
// Index of a site's first consumer in LinearIndex order.
int first_linear(Site s) {
  constexpr int first[model::kNumSites] = {kLinQ, kLinO, kLinGate, kLinDown};
  return first[static_cast<int>(s)];
}

// The weight grid of the method: per output channel (groups of --group-size input channels), clip --swc,
// asymmetric (DuQuant's reference). QuaRot-GPTQ (rotation+gptq) as QuaRot runs it: symmetric with GPTQ's full
// signed range, each row's clip found by GPTQ's MSE search (quant::mse_row_clips) instead of --swc.
quant::QuantSpec weight_spec(const QuantOptions& o) {
  quant::QuantSpec spec;
  spec.bits = o.wbits;
  spec.clip = o.swc;
  spec.group_size = o.group_size;
  if (o.quarot_weight_grid()) {
    spec.symmetric = spec.full_range = true;
    spec.clip = 1.f;
  }
  return spec;
}

// The weight side of the smoothing factors at a site: per input channel max |W| over all its consumers
// (SmoothQuant) or, as DuQuant's reference code, over W_q (attention input) / W_up (FFN input) only.
std::vector<float> smoothing_weight_max(Site site, const model::LayerWeights& w, bool all_consumers) {
  switch (site) {
    case Site::AttnIn: return all_consumers ? weight_column_absmax({&w.wq, &w.wk, &w.wv}) : weight_column_absmax({&w.wq});
    case Site::AttnOut: return weight_column_absmax({&w.wo});
    case Site::FfnIn: return all_consumers ? weight_column_absmax({&w.w_gate, &w.w_up}) : weight_column_absmax({&w.w_up});
    case Site::DownIn: return weight_column_absmax({&w.w_down});
  }
  return {};
}

// During the calibration forward of one block: at the first sight of each linear input, search its
// transform, fold it into the consumers and quantize them; then behave as the runtime hooks.
class BlockCalibrator : public model::ForwardHooks {
 public:
  BlockCalibrator(const model::ModelConfig& cfg, const QuantOptions& opts, SimQuantHooks& rt, model::LayerWeights& w,
                  LayerCodes& codes, std::array<SiteReport, model::kNumSites>& rep)
      : cfg_(cfg), opts_(opts), rt_(rt), w_(w), codes_(codes), rep_(rep) {}

  void linear_input(int layer, Site site, MatView x) override {
    SiteTransform& st = rt_.sites()[static_cast<size_t>(layer)][static_cast<size_t>(site)];
    SiteReport& rep = rep_[static_cast<size_t>(site)];
    auto cons = consumers(w_, site);
    // Reference output of the float layers on this input (x·Wᵀ is unchanged by any folded smoothing).
    std::vector<Mat> ref;
    for (Mat* wm : cons) {
      ref.emplace_back(x.rows, wm->rows());
      kernels::matmul_xwt(x, *wm, ref.back());
    }
    // The search sees the input after online smoothing (GQA o input), as the transform will.
    Mat xin(x);
    if (!st.smooth.empty())
      for (int64_t t = 0; t < xin.rows(); ++t)
        for (int64_t j = 0; j < xin.cols(); ++j) xin(t, j) /= st.smooth[static_cast<size_t>(j)];
    rep.absmax_before = column_absmax(xin);
    // The smoothing alone, undone, for the "before smoothing" picture: x·Λ (folded Λ is not in x any more).
    rep.absmax_raw = rep.absmax_before;
    const auto& sm = st.smooth.empty() ? smooth_[static_cast<size_t>(site)] : st.smooth;
    for (size_t j = 0; j < sm.size(); ++j) rep.absmax_raw[j] *= sm[j];
    if (opts_.is_auto()) {
      // duquant-auto: transform, activation clip and per-row weight clips chosen on the calibration rows;
      // the stage pictures then start from the input of the chosen transform (after its online part).
      const Timer tw;
      choose_auto(layer, site, x, st, rep);
      weight_seconds_ += tw.seconds();
      for (int64_t t = 0; t < xin.rows(); ++t)
        for (int64_t j = 0; j < xin.cols(); ++j)
          xin(t, j) = st.smooth.empty() ? x(t, j) : x(t, j) / st.smooth[static_cast<size_t>(j)];
      rep.absmax_before = column_absmax(xin);
    } else {
      search(layer, site, xin, st);
      for (Mat* wm : cons) st.fold_weight(*wm);  // W·Λ·R₁·P·R₂ (Λ only when smoothing stays online)
      const Timer tw;
      quantize_weights(layer, site, st);
      weight_seconds_ += tw.seconds();
    }
    record_stages(site, xin, st, rep);
    rt_.linear_input(layer, site, x);  // x ← Q(x·G)
    // Error sums per token t over the consumers' outputs: e_t = Σ ‖ŷ_t − y_t‖², n_t = Σ ‖y_t‖².
    std::vector<double> e(static_cast<size_t>(x.rows), 0.0), n(static_cast<size_t>(x.rows), 0.0);
    for (size_t i = 0; i < cons.size(); ++i) {
      Mat y(x.rows, cons[i]->rows());
      kernels::matmul_xwt(x, *cons[i], y);
      for (int64_t t = 0; t < y.rows(); ++t)
        for (int64_t j = 0; j < y.cols(); ++j) {
          const double r = ref[i](t, j), d = double(y(t, j)) - r;
          e[static_cast<size_t>(t)] += d * d;
          n[static_cast<size_t>(t)] += r * r;
        }
    }
    double num = 0, den = 0, tok = 0;
    for (size_t t = 0; t < e.size(); ++t) {
      num += e[t];
      den += n[t];
      tok += n[t] > 0 ? e[t] / n[t] : 0.0;
    }
    rep.output_rel_error = den > 0 ? std::sqrt(num / den) : 0.0;
    rep.output_token_rel_error = e.empty() ? 0.0 : std::sqrt(tok / static_cast<double>(e.size()));
  }
  void qk(int layer, MatView q, MatView k) override {
    if (opts_.is_auto() && (opts_.abits != kNoQuant || opts_.kv() != kNoQuant)) choose_qk_clip_auto(layer);
    rt_.qk(layer, q, k);
  }
  void v(int layer, MatView v) override { rt_.v(layer, v); }
  // Smoothing factors folded into the block's weights, per site (empty when none), for the report.
  std::array<std::vector<float>, model::kNumSites> smooth_;
  // Where GPTQ / AdaDim Hessians come from: all calibration windows at this block's input (quantized-propagated).
  void set_hessian_windows(const std::vector<Mat>* windows, const kernels::RopeTable* rope) {
    hwin_ = windows;
    rope_ = rope;
  }
  // AdaDim's official per-module choice for this block (unset: per linear, or not AdaDim).
  std::optional<AdaDimModuleChoice> adadim_module_;
  // LWC: the transformed float weights (W·G⁻ᵀ before rounding), in LinearIndex order.
  std::array<Mat, kNumLinears> folded_;
  int adadim_per_ic_ = 0, adadim_linears_ = 0;
  std::array<quant::Hessian, 2> folds_;  // AdaDim+GPTQ: Hessians of the two halves of the windows
  int auto_gptq_rows_ = 0, auto_rows_ = 0;  // duquant-auto: weight rows rounded by GPTQ / all
  double weight_seconds_ = 0;  // spent rounding weights (and on duquant-auto's choice) inside the forward

 private:
  // absmax after each stage of G on the (smoothed) search input xin.
  static void record_stages(Site site, ConstMatView xin, const SiteTransform& st, SiteReport& rep) {
    Mat cur(xin);
    if (st.duquant) {
      const auto& dq = *st.duquant;
      for (size_t i = 0; i < dq.rotations.size(); ++i) {
        dq.rotations[i].apply_rows(cur);
        if (i == 0) rep.absmax_rot1 = column_absmax(cur);
        if (i < dq.perms.size()) {
          transform::permute_columns(cur, dq.perms[i]);
          if (i == 0) rep.absmax_perm = column_absmax(cur);
        }
      }
    } else if (st.hadamard) {
      st.hadamard->apply_rows(cur);
      rep.absmax_rot1 = column_absmax(cur);
    }
    rep.absmax_after = column_absmax(cur);
    if (site == Site::DownIn) {
      rep.abs_before = Mat(xin);
      rep.abs_after = std::move(cur);
      for (float& v : rep.abs_before.flat()) v = std::fabs(v);
      for (float& v : rep.abs_after.flat()) v = std::fabs(v);
    }
  }

  void search(int layer, Site site, ConstMatView x, SiteTransform& st) {
    if (opts_.duquant_transform()) {
      st.duquant = search_duquant(layer, site, x);
    } else if (opts_.rotation_transform()) {
      st.hadamard_seed = transform::derive_seed(opts_.seed, stream(layer, site));
      st.hadamard = std::make_shared<transform::RandomizedHadamard>(x.cols, st.hadamard_seed);
    }
  }
  static uint64_t stream(int layer, Site site) {
    return static_cast<uint64_t>(layer) * model::kNumSites + static_cast<uint64_t>(site);
  }
  // The greedy rotations + zigzag permutation of this input, searched on x [T×D] (after any smoothing).
  transform::DuQuantTransform search_duquant(int layer, Site site, ConstMatView x) const {
    const int64_t D = x.cols;
    {
      transform::DuQuantOptions o;
      o.block = opts_.block_explicit ? opts_.block : std::min<int64_t>(opts_.block, D);
      if (o.block > D)
        fail("--block ", opts_.block, " is larger than the ", D, "-wide input of layer ", layer, " ",
             model::site_name(site), " (choose at most ", D, ")");
      o.steps = opts_.steps;
      o.rounds = opts_.permute ? opts_.rounds : 0;
      o.variant = opts_.variant;
      o.seed = transform::derive_seed(opts_.seed, stream(layer, site));
      return transform::duquant_search(x, o);
    }
  }

  // duquant-auto: this layer's Q/K clip from the logits of the calibration windows (the attention input
  // already transformed and quantized as chosen).
  void choose_qk_clip_auto(int layer) {
    DUQ_CHECK(hwin_ && rope_, "duquant-auto: no calibration windows");
    std::vector<std::pair<Mat, Mat>> qk;
    for_each_qk(cfg_, layer, w_, rt_, spaced_windows(*hwin_, opts_.auto_rows), *rope_,
                [&](MatView q, MatView k) { qk.emplace_back(Mat(q), Mat(k)); });
    const AutoGrid grid;
    const QkClipResult r = choose_qk_clip(qk, cfg_.head_dim(), cfg_.n_heads, cfg_.n_kv_heads, opts_.abits, opts_.kv(), grid);
    rt_.set_qk_clip(layer, r.clip);
    if (opts_.progress) {
      std::fprintf(stderr, "layer %d q/k: clip %.2f (logit errors:", layer, r.clip);
      for (size_t i = 0; i < r.rel_error.size(); ++i) std::fprintf(stderr, " %.2f %.4f", grid.qk_clips[i], r.rel_error[i]);
      std::fprintf(stderr, ")\n");
    }
  }

  // duquant-auto at one input: the four candidate transforms evaluated on the calibration rows that reach
  // this input (calib/auto_select.h); the winner is installed in st, folded into the consumers, which are
  // quantized with their per-row clips.
  void choose_auto(int layer, Site site, ConstMatView x, SiteTransform& st, SiteReport& rep) {
    DUQ_CHECK(hwin_ && rope_, "duquant-auto: no calibration windows");
    const Mat rows = site_inputs(cfg_, layer, w_, rt_, site, *hwin_, *rope_, opts_.auto_rows);
    auto cons = consumers(w_, site);
    const int64_t D = x.cols;
    // DuQuant's smoothing Λ was set up at the block's start exactly as for duquant: folded into norms / W_v /
    // W_up (then x here is already x·Λ⁻¹, and folding into W_v also flattens the V cache) or, where it cannot
    // be folded, online in st.smooth. Candidates without smoothing undo a folded Λ online (x·Λ).
    const std::vector<float>& folded = smooth_[static_cast<size_t>(site)];
    const std::vector<float> online = st.smooth;
    std::vector<float> unfold;
    for (float f : folded) unfold.push_back(1.f / f);
    const bool smoothing = !folded.empty() || !online.empty();
    std::vector<AutoCandidate> cand;
    auto add = [&](const char* name, std::vector<float> smooth) -> SiteTransform& {
      cand.push_back({name, {}});
      cand.back().st.smooth = std::move(smooth);
      return cand.back().st;
    };
    add("none", unfold);
    if (smoothing) add("smooth", online);
    SiteTransform& rot = add("rotation", unfold);
    rot.hadamard_seed = transform::derive_seed(opts_.seed, stream(layer, site));
    rot.hadamard = std::make_shared<transform::RandomizedHadamard>(D, rot.hadamard_seed);
    Mat xs(x);  // the search input: x·Λ⁻¹
    if (!online.empty())
      for (int64_t t = 0; t < xs.rows(); ++t)
        for (int64_t j = 0; j < D; ++j) xs(t, j) /= online[static_cast<size_t>(j)];
    add("duquant", online).duquant = search_duquant(layer, site, xs);
    std::vector<const Mat*> ws(cons.begin(), cons.end());
    quant::GptqOptions go;
    go.damp = opts_.gptq_damp;
    go.block = opts_.gptq_block;
    go.act_order = opts_.act_order;
    AutoResult r = auto_select(rows, ws, cand, opts_.wbits, opts_.abits, AutoGrid{}, opts_.auto_gptq ? &go : nullptr);
    auto_gptq_rows_ += r.gptq_rows;
    if (opts_.wbits != kNoQuant)
      for (const Mat* m : cons) auto_rows_ += static_cast<int>(m->rows());
    for (size_t c = 0; c < cand.size(); ++c)
      rep.auto_candidates.push_back({cand[c].name, r.rel_error[c], r.best_act_clip[c]});
    st = std::move(cand[r.chosen].st);
    st.choice = cand[r.chosen].name;
    st.act_clip = opts_.abits == kNoQuant ? 0.f : r.act_clip;
    auto slots = code_slots(codes_, site);
    for (size_t i = 0; i < cons.size(); ++i) {
      st.fold_weight(*cons[i]);
      if (opts_.wbits == kNoQuant) continue;
      quant::QuantizedMat q = std::move(r.codes[i]);
      codes_.row_clip[static_cast<size_t>(first_linear(site)) + i] = std::move(r.row_clip[i]);
      *slots[i] = std::move(q);
      quant::dequantize(**slots[i], *cons[i]);
    }
    if (opts_.progress) {
      std::fprintf(stderr, "layer %d %s: %s, act clip %.2f (errors:", layer, model::site_name(site), st.choice.c_str(),
                   st.act_clip);
      for (const auto& e : rep.auto_candidates) std::fprintf(stderr, " %s %.4f", e.name.c_str(), e.rel_error);
      std::fprintf(stderr, ")\n");
    }
  }

  // Rounds the site's (transformed) consumer weights: RTN, GPTQ or AdaDim with the Hessian of the site's
  // transformed input over all calibration windows, or LWC's starting clip (trained after the block).
  void quantize_weights(int layer, Site site, const SiteTransform& st) {
    if (opts_.wbits == kNoQuant) return;
    const quant::QuantSpec spec = weight_spec(opts_);
    auto cons = consumers(w_, site);
    auto slots = code_slots(codes_, site);
    std::optional<quant::Hessian> h;
    if (opts_.needs_hessians()) {
      DUQ_CHECK(hwin_ && rope_, "quantize_weights: no calibration windows for the Hessian");
      if (opts_.uses_adadim() && opts_.adadim_per_linear && opts_.uses_gptq() && hwin_->size() >= 2) {
        // Two halves of the windows for AdaDim's cross-validated choice (quant/adadim.h); H is their merge.
        std::array<std::vector<Mat>, 2> half;
        for (size_t i = 0; i < hwin_->size(); ++i) half[i % 2].push_back((*hwin_)[i]);
        for (int f = 0; f < 2; ++f)
          folds_[static_cast<size_t>(f)] =
              site_hessian(cfg_, layer, w_, rt_, site, st, half[static_cast<size_t>(f)], *rope_, false);
        h = folds_[0];
        h->merge(folds_[1]);
      } else {
        h = site_hessian(cfg_, layer, w_, rt_, site, st, *hwin_, *rope_, /*after_act_quant=*/false);
      }
    }
    quant::GptqOptions go;
    go.damp = opts_.gptq_damp;
    go.block = opts_.gptq_block;
    go.act_order = opts_.act_order;
    std::vector<quant::AdaDimResult> ada;
    for (size_t i = 0; i < cons.size(); ++i) {
      if (opts_.uses_lwc()) {
        folded_[static_cast<size_t>(first_linear(site)) + i] = Mat(*cons[i]);
        *slots[i] = lwc_quantize(*cons[i], LwcRow(cons[i]->rows()), opts_.wbits);
      } else if (opts_.uses_adadim() && adadim_module_) {
        // The module's axis; then RTN, or GPTQ with act-order in that dimension (the official code).
        quant::QuantSpec s = spec;
        s.axis = adadim_module_->axis[site == Site::AttnIn || site == Site::AttnOut ? 0 : 1];
        quant::GptqOptions ga = go;
        ga.act_order = true;
        *slots[i] = opts_.uses_gptq() ? quant::gptq_quantize(*cons[i], *h, s, ga) : quant::quantize(*cons[i], s);
        adadim_per_ic_ += s.axis == quant::Axis::kColumn;
        ++adadim_linears_;
      } else if (opts_.uses_adadim()) {
        const std::array<const quant::Hessian*, 2> folds = {&folds_[0], &folds_[1]};
        const bool cv = opts_.uses_gptq() && folds_[0].rows() > 0;
        ada.push_back(quant::adadim_quantize(*cons[i], *h, spec, opts_.uses_gptq(), go, cv ? &folds : nullptr));
        continue;  // rounded below, once the choice is final
      } else if (opts_.uses_gptq()) {
        if (opts_.quarot_weight_grid() && spec.group_size == 0) go.row_clip = quant::mse_row_clips(*cons[i], spec);
        *slots[i] = quant::gptq_quantize(*cons[i], *h, spec, go);
      } else {
        *slots[i] = quant::quantize(*cons[i], spec);
      }
      quant::dequantize(**slots[i], *cons[i]);
    }
    if (ada.empty()) return;
    for (size_t i = 0; i < cons.size(); ++i) {
      adadim_per_ic_ += ada[i].q.spec.axis == quant::Axis::kColumn;
      if (opts_.progress)
        std::fprintf(stderr, "layer %d %s consumer %zu: per-%s groups (output error per-OC %.4g, per-IC %.4g%s)\n", layer,
                     model::site_name(site), i, ada[i].q.spec.axis == quant::Axis::kColumn ? "IC" : "OC", ada[i].error_oc,
                     ada[i].error_ic, folds_[0].rows() > 0 ? ", cross-validated" : "");
      ++adadim_linears_;
      *slots[i] = std::move(ada[i].q);
      quant::dequantize(**slots[i], *cons[i]);
    }
  }

  const model::ModelConfig& cfg_;
  const QuantOptions& opts_;
  SimQuantHooks& rt_;
  model::LayerWeights& w_;
  LayerCodes& codes_;
  std::array<SiteReport, model::kNumSites>& rep_;
  const std::vector<Mat>* hwin_ = nullptr;
  const kernels::RopeTable* rope_ = nullptr;
};

bool uses_smoothing(const QuantOptions& o) {
  return o.method == Method::SmoothQuant || ((o.duquant_transform() || o.is_auto()) && o.smooth);
}

// LWC of one block after its transforms are fixed: learns the clip of the seven linears on the
// quantized-propagated inputs x_q against the float block outputs fp_out, then stores the final codes.
void lwc_block(const model::ModelConfig& cfg, int layer, const QuantOptions& opts, const SimQuantHooks& hooks,
               const SiteTransforms& sites, std::array<Mat, kNumLinears>& folded, model::LayerWeights& w,
               LayerCodes& codes, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out, QuantizedModel& qm) {
  const BlockParams<float> fixed = frozen_block_params(cfg, w, sites, hooks.head_rotation());
  const BlockQuantSpec qs = block_quant_spec(opts);
  std::array<const Mat*, kNumLinears> fw;
  for (int i = 0; i < kNumLinears; ++i) fw[static_cast<size_t>(i)] = &folded[static_cast<size_t>(i)];
  LwcOptions lo;
  lo.epochs = opts.lwc_epochs;
  lo.lr = opts.lwc_lr;
  lo.wbits = opts.wbits;
  Timer t;
  const LwcResult r = lwc_train_block(cfg, qs, fixed, fw, x_q, fp_out, lo);
  qm.lwc_loss_first += r.loss_first;
  qm.lwc_loss_last += r.loss_last;
  if (opts.progress)
    std::fprintf(stderr, "layer %d LWC: block loss %.5g -> %.5g over %d steps (%.1f s), %d non-finite epochs rolled back\n",
                 layer, r.loss_first, r.loss_last, r.steps, t.seconds(), r.nan_epochs);
  auto ws = linears(w);
  auto cs = linear_codes(codes);
  for (int i = 0; i < kNumLinears; ++i) {
    *cs[static_cast<size_t>(i)] = lwc_quantize(folded[static_cast<size_t>(i)], r.rows[static_cast<size_t>(i)], opts.wbits);
    quant::dequantize(**cs[static_cast<size_t>(i)], *ws[static_cast<size_t>(i)]);
  }
}

// duquant+learn for one block after its DuQuant transforms are searched: learns a rotation after each input's
// R₂ jointly with LWC's clips (calib/learned_rotation.h), folds it into R₂ and stores the final codes.
void learn_block(const model::ModelConfig& cfg, int layer, const QuantOptions& opts, const SimQuantHooks& hooks,
                 SiteTransforms& sites, std::array<Mat, kNumLinears>& folded, model::LayerWeights& w, LayerCodes& codes,
                 const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out, QuantizedModel& qm) {
  const BlockParams<float> fixed = frozen_block_params(cfg, w, sites, hooks.head_rotation());
  const BlockQuantSpec qs = block_quant_spec(opts);
  std::array<const Mat*, kNumLinears> fw;
  for (int i = 0; i < kNumLinears; ++i) fw[static_cast<size_t>(i)] = &folded[static_cast<size_t>(i)];
  std::array<const transform::BlockRotation*, 4> layouts{};
  for (int s = 0; s < model::kNumSites; ++s) {
    const auto& dq = sites[static_cast<size_t>(s)].duquant;
    if (dq && !dq->rotations.empty()) layouts[static_cast<size_t>(s)] = &dq->rotations.back();
  }
  std::vector<MatX<float>> xs, ts;
  for (size_t n = 0; n < x_q.size(); ++n) {
    xs.push_back(to_matx(x_q[n]));
    ts.push_back(to_matx(fp_out[n]));
  }
  LearnOptions lo;
  lo.epochs = opts.lwc_epochs;
  lo.lr_clip = opts.lwc_lr;
  lo.angle = opts.learn_angle;
  lo.wbits = opts.wbits;
  Timer t;
  const LearnResult r = learn_train_block(cfg, qs, fixed, fw, layouts, xs, ts, lo);
  qm.lwc_loss_first += r.loss_first;
  qm.lwc_loss_last += r.loss_last;
  if (opts.progress)
    std::fprintf(stderr, "layer %d learned rotations + LWC: block loss %.5g -> %.5g over %d steps (%.1f s)\n", layer,
                 r.loss_first, r.loss_last, r.steps, t.seconds());
  constexpr int kSiteOf[kNumLinears] = {0, 0, 0, 1, 2, 2, 3};
  auto ws = linears(w);
  auto cs = linear_codes(codes);
  for (int i = 0; i < kNumLinears; ++i) {
    const auto& rot = r.rot[static_cast<size_t>(kSiteOf[i])];
    Mat wp(folded[static_cast<size_t>(i)]);
    if (rot) {
      const MatX<float> d = rot->dense();
      kernels::matmul(folded[static_cast<size_t>(i)], ConstMatView(d.data(), d.rows, d.cols), wp);
    }
    *cs[static_cast<size_t>(i)] = lwc_quantize(wp, r.rows[static_cast<size_t>(i)], opts.wbits);
    quant::dequantize(**cs[static_cast<size_t>(i)], *ws[static_cast<size_t>(i)]);
  }
  for (int s = 0; s < model::kNumSites; ++s)
    if (r.rot[static_cast<size_t>(s)]) r.rot[static_cast<size_t>(s)]->fold_into(sites[static_cast<size_t>(s)].duquant->rotations.back());
}

// Norm tweaking of one finished block: its RMSNorm weights trained on the block loss (quantized-propagated
// inputs x_q against the float block outputs fp_out), with the block's own activation and Q/K clips.
void norm_tweak_block(const model::ModelConfig& cfg, int layer, const QuantOptions& opts, const SimQuantHooks& hooks,
                      const SiteTransforms& sites, model::LayerWeights& w, const std::vector<Mat>& x_q,
                      const std::vector<Mat>& fp_out, QuantizedModel& qm) {
  BlockParams<float> p = frozen_block_params(cfg, w, sites, hooks.head_rotation());
  set_block_weights(w, p);
  BlockQuantSpec qs = block_quant_spec(opts);
  qs.qk_clip = hooks.qk_clip(layer);
  for (int s = 0; s < model::kNumSites; ++s) qs.site_lac[static_cast<size_t>(s)] = sites[static_cast<size_t>(s)].act_clip;
  std::vector<MatX<float>> xs, ts;
  for (size_t n = 0; n < x_q.size(); ++n) {
    xs.push_back(to_matx(x_q[n]));
    ts.push_back(to_matx(fp_out[n]));
  }
  NormTweakOptions no;
  no.epochs = opts.norm_tweak_epochs;
  no.lr = opts.norm_tweak_lr;
  Timer t;
  const NormTweakResult r = calib::norm_tweak_block(cfg, qs, p, xs, ts, no);
  qm.norm_tweak_loss_before += r.loss_before;
  qm.norm_tweak_loss_after += r.loss_after;
  if (opts.progress)
    std::fprintf(stderr, "layer %d norm tweak: block loss %.5g -> %.5g over %d steps (%.1f s)\n", layer, r.loss_before,
                 r.loss_after, r.steps, t.seconds());
  std::copy(r.attn_norm.begin(), r.attn_norm.end(), w.attn_norm.begin());
  std::copy(r.ffn_norm.begin(), r.ffn_norm.end(), w.ffn_norm.begin());
}

// Smoothing factors of a block's sites from FP activation maxima and the (original) weights, folded.
// SmoothQuant as its own code runs LLaMA (smooth.py, smooth_ln_fcs_llama_like): only the inputs that follow a
// norm (q/k/v after the attention norm, gate/up after the FFN norm), w_j = max over all of their consumers,
// s clamped at 1e-5. DuQuant smooths all four inputs (w_j from W_q / W_up as its reference code) with a 1e-2
// floor.
void smooth_block(const model::ModelConfig& cfg, const QuantOptions& opts,
                  const std::array<std::vector<float>, model::kNumSites>& act_max, model::LayerWeights& w,
                  SiteTransforms& sites, std::array<std::vector<float>, model::kNumSites>* folded) {
  const bool smoothquant = opts.method == Method::SmoothQuant;
  const float floor = smoothquant ? transform::kSmoothQuantSmoothFloor : transform::kDuQuantSmoothFloor;
  for (int s = 0; s < model::kNumSites; ++s) {
    const Site site = static_cast<Site>(s);
    if (smoothquant && site != Site::AttnIn && site != Site::FfnIn) continue;
    const std::vector<float> wmax = smoothing_weight_max(site, w, /*all_consumers=*/smoothquant);
    std::vector<float> sm =
        transform::smoothing_factors(act_max[static_cast<size_t>(s)], wmax, opts.smoothing_alpha(), floor);
    if (!fold_smoothing(cfg, site, sm, w)) sites[static_cast<size_t>(s)].smooth = sm;  // GQA o input: online
    else if (folded) (*folded)[static_cast<size_t>(s)] = sm;
  }
}

}  // namespace

Mat QuantizedModel::forward(std::span<const int> tokens, int pos0, model::KVCache& cache, bool last_only) const {
  return model->forward(tokens, pos0, cache, hooks.get(), last_only);
}

Mat QuantizedModel::forward_batch(std::span<const model::SeqChunk> chunks) const {
  return model->forward_batch(chunks, hooks.get());
}

QuantizedModel float_model(const model::WeightSource& src) {
  QuantizedModel qm;
  qm.cfg = src.config();
  qm.opts.method = Method::Fp;
  qm.opts.wbits = qm.opts.abits = kNoQuant;
  qm.model = std::make_unique<model::Model>(qm.cfg, src.load_all());
  return qm;
}

QuantizedModel quantize_model(const model::WeightSource& src, const std::vector<std::vector<int>>& windows,
                              const QuantOptions& opts, const BlockSink& sink) {
  opts.validate();
  if (opts.method == Method::Fp) return float_model(src);
  if (windows.empty()) fail("quantization needs calibration windows");
  Timer timer;
  const model::ModelConfig& cfg = src.config();
  const int L = static_cast<int>(windows.front().size());
  const int64_t D = cfg.dim;
  QuantizedModel qm;
  qm.cfg = cfg;
  qm.opts = opts;
  qm.hooks = std::make_unique<SimQuantHooks>(cfg, opts);
  if (!sink) qm.codes.resize(static_cast<size_t>(cfg.n_layers));
  qm.report.resize(static_cast<size_t>(cfg.n_layers));

  model::ModelWeights out;
  out.embed = src.embedding();
  model::check_finite(out.embed.flat(), src.description() + ": token embedding");
  if (!sink) {  // a sink's caller reads the tables itself: not held here through all the blocks
    out.final_norm = src.final_norm();
    out.lm_head = src.lm_head();
  }

  // Block-0 inputs: each window's embeddings, and their mean (the search sequence). x_fp: the windows through
  // the float model (smoothing statistics, LWC targets); x_q: the windows through the quantized blocks
  // (GPTQ/AdaDim Hessians, LWC inputs).
  const bool lwc = opts.wbits != kNoQuant && opts.uses_lwc();
  const bool need_fp = uses_smoothing(opts) || lwc || opts.norm_tweak;
  const bool need_q = (opts.wbits != kNoQuant && (opts.needs_hessians() || opts.uses_lwc() || opts.uses_adadim())) ||
                      opts.is_auto() || opts.norm_tweak;
  std::vector<Mat> x_fp, x_q;
  Mat x_search(L, D);
  for (const auto& win : windows) {
    if (static_cast<int>(win.size()) != L) fail("calibration windows must have equal lengths");
    Mat e(L, D);
    for (int t = 0; t < L; ++t) {
      const int id = win[static_cast<size_t>(t)];
      if (id < 0 || id >= cfg.vocab_size) fail("calibration token ", id, " is outside the vocabulary");
      for (int64_t j = 0; j < D; ++j) e(t, j) = out.embed(id, j);
    }
    for (int64_t i = 0; i < e.size(); ++i) x_search.data()[i] += e.data()[i] / static_cast<float>(windows.size());
    if (need_q) x_q.push_back(e);
    if (need_fp) x_fp.push_back(std::move(e));
  }

  if (sink) out.embed = Mat();
  kernels::RopeTable rope = model::rope_table(cfg, L);
  Mat kc(L, cfg.kv_dim()), vc(L, cfg.kv_dim());
  Progress prog("quantizing " + method_name(opts.method) + " W" + std::to_string(opts.wbits) + "A" +
                    std::to_string(opts.abits),
                cfg.n_layers, opts.progress);
  StageTimes& times = qm.stages;
  for (int l = 0; l < cfg.n_layers; ++l) {
    Timer tl;
    model::LayerWeights w = src.layer(l);
    const std::string where = src.description() + ": layer " + std::to_string(l);
    for (const Mat* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) model::check_finite(m->flat(), where);
    times.load += tl.seconds();
    LayerCodes block_codes;
    LayerCodes& codes = sink ? block_codes : qm.codes[static_cast<size_t>(l)];
    auto& rep = qm.report[static_cast<size_t>(l)];
    SiteTransforms& sites = qm.hooks->sites()[static_cast<size_t>(l)];
    std::array<std::vector<float>, model::kNumSites> fp_absmax;

    if (need_fp) {
      // 1. FP statistics over all windows; the windows advance to the next block's input.
      const Timer ts;
      AbsMaxHook stats;
      model::FloatLinears lin(w);
      for (Mat& x : x_fp) model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, &stats);
      for (int s = 0; s < model::kNumSites; ++s) {
        model::check_finite(stats.absmax[static_cast<size_t>(s)], where + " calibration activations at " +
                                                                    model::site_name(static_cast<Site>(s)));
        rep[static_cast<size_t>(s)].absmax_fp = stats.absmax[static_cast<size_t>(s)];
      }
      fp_absmax = stats.absmax;
      times.statistics += ts.seconds();
    }
    // 3. search, fold, quantize while the search sequence runs through the block.
    const Timer tsearch;
    BlockCalibrator cal(cfg, opts, *qm.hooks, w, codes, rep);
    // 2. smoothing folded into norms / weights (before the search forward sees the block).
    if (uses_smoothing(opts)) smooth_block(cfg, opts, fp_absmax, w, sites, &cal.smooth_);
    if (need_q) cal.set_hessian_windows(&x_q, &rope);
    if (opts.uses_adadim() && !opts.adadim_per_linear && opts.wbits != kNoQuant) {
      cal.adadim_module_ = adadim_module_choice(cfg, l, w, x_q, rope, weight_spec(opts));
      const auto& c = *cal.adadim_module_;
      if (opts.progress)
        std::fprintf(stderr, "layer %d AdaDim: attention per-%s (rel. output error per-OC %.4g, per-IC %.4g), MLP per-%s (%.4g, %.4g)\n",
                     l, c.axis[0] == quant::Axis::kColumn ? "IC" : "OC", c.rel_error[0][0], c.rel_error[0][1],
                     c.axis[1] == quant::Axis::kColumn ? "IC" : "OC", c.rel_error[1][0], c.rel_error[1][1]);
    }
    model::FloatLinears lin(w);
    model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, x_search, 0, kc, vc, rope, &cal);
    model::check_finite(x_search.flat(), where + " output of the quantized block");
    times.weights += cal.weight_seconds_;
    times.search += tsearch.seconds() - cal.weight_seconds_;
    qm.adadim_per_ic += cal.adadim_per_ic_;
    qm.adadim_linears += cal.adadim_linears_;
    qm.auto_gptq_rows += cal.auto_gptq_rows_;
    qm.auto_rows += cal.auto_rows_;
    // 4. LWC: learn the weight clipping of the block with its transforms frozen.
    if (lwc) {
      const Timer tw;
      if (opts.learns_rotation())
        learn_block(cfg, l, opts, *qm.hooks, sites, cal.folded_, w, codes, x_q, x_fp, qm);
      else
        lwc_block(cfg, l, opts, *qm.hooks, sites, cal.folded_, w, codes, x_q, x_fp, qm);
      times.weights += tw.seconds();
    }
    // 4b. Norm tweaking: the block's RMSNorm weights fitted to its output with everything else fixed.
    if (opts.norm_tweak) {
      const Timer tn;
      norm_tweak_block(cfg, l, opts, *qm.hooks, sites, w, x_q, x_fp, qm);
      times.weights += tn.seconds();
    }
    // 5. The windows through the finished quantized block: the next block's quantized-propagated inputs.
    const Timer tp;
    if (need_q)
      for (Mat& x : x_q) {
        model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, qm.hooks.get());
        model::check_finite(x.flat(), where + " quantized-propagated calibration window");
      }
    times.propagate += tp.seconds();
    if (sink) {
      for (SiteReport& r : rep) r.abs_before = r.abs_after = Mat();  // [T×H] each: not kept per block
      sink(l, std::move(w), std::move(block_codes), sites);
    } else {
      out.layers.push_back(std::move(w));
    }
    prog.update(l + 1);
  }
  prog.finish();
  if (!sink) qm.model = std::make_unique<model::Model>(cfg, std::move(out));
  qm.calib_seconds = timer.seconds();
  return qm;
}

}  // namespace duq::calib
