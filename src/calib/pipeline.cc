#include "calib/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "calib/adadim_module.h"
#include "calib/block_calibrator.h"
#include "calib/block_state.h"
#include "calib/block_training.h"
#include "calib/smoothing_fold.h"
#include "calib/weight_rounding.h"
#include "core/error.h"
#include "core/progress.h"
#include "model/rope_freq.h"

namespace duq::calib {

using model::Site;

namespace {

// Collects per-channel max |x| at the four linear inputs of one block (FP statistics; only looks).
class AbsMaxObserver : public model::ForwardObserver {
 public:
  std::array<std::vector<float>, model::kNumSites> absmax;
  void linear_input(int, Site site, ConstMatView x) override {
    auto& m = absmax[static_cast<size_t>(site)];
    if (m.empty()) m.assign(static_cast<size_t>(x.cols), 0.f);
    for (int64_t t = 0; t < x.rows; ++t)
      for (int64_t j = 0; j < x.cols; ++j)
        m[static_cast<size_t>(j)] = std::max(m[static_cast<size_t>(j)], std::fabs(x(t, j)));
  }
};

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
  const bool need_fp = opts.uses_smoothing() || lwc || opts.norm_tweak;
  const bool need_q = (opts.wbits != kNoQuant && (opts.needs_hessians() || opts.uses_lwc() || opts.uses_adadim())) ||
                      opts.is_auto() || opts.norm_tweak || opts.k_center;
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
  Progress prog(
      "quantizing " + method_name(opts.method) + " W" + std::to_string(opts.wbits) + "A" + std::to_string(opts.abits),
      cfg.n_layers, opts.progress);
  StageTimes& times = qm.stages;
  for (int l = 0; l < cfg.n_layers; ++l) {
    Timer tl;
    model::LayerWeights w = src.layer(l);
    const std::string where = src.description() + ": layer " + std::to_string(l);
    for (const Mat* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down})
      model::check_finite(m->flat(), where);
    times.load += tl.seconds();
    LayerCodes block_codes;
    LayerCodes& codes = sink ? block_codes : qm.codes[static_cast<size_t>(l)];
    auto& rep = qm.report[static_cast<size_t>(l)];
    SiteTransforms& sites = qm.hooks->sites()[static_cast<size_t>(l)];
    std::array<std::vector<float>, model::kNumSites> fp_absmax;

    if (need_fp) {
      // 1. FP statistics over all windows; the windows advance to the next block's input.
      const Timer ts;
      AbsMaxObserver stats;
      model::ObserveOnly observe(stats);
      model::FloatLinears lin(w);
      for (Mat& x : x_fp) model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, &observe);
      for (int s = 0; s < model::kNumSites; ++s) {
        model::check_finite(stats.absmax[static_cast<size_t>(s)],
                            where + " calibration activations at " + model::site_name(static_cast<Site>(s)));
        rep[static_cast<size_t>(s)].absmax_fp = stats.absmax[static_cast<size_t>(s)];
      }
      fp_absmax = stats.absmax;
      times.statistics += ts.seconds();
    }
    // 3. search, fold, quantize site by site, between stages of the search sequence's forward.
    const Timer tsearch;
    BlockState block(cfg, opts, l, *qm.hooks, w, codes, rep);
    // 2. smoothing folded into norms / weights (before the search forward sees the block).
    if (opts.uses_smoothing()) smooth_block(cfg, opts, fp_absmax, w, sites, &block.smooth_folded);
    if (need_q) {
      block.windows = &x_q;
      block.rope = &rope;
    }
    if (opts.uses_adadim() && !opts.adadim_per_linear && opts.wbits != kNoQuant) {
      block.adadim_module = adadim_module_choice(cfg, l, w, x_q, rope, weight_spec(opts));
      const auto& c = *block.adadim_module;
      if (opts.progress)
        std::fprintf(
            stderr,
            "layer %d AdaDim: attention per-%s (rel. output error per-OC %.4g, per-IC %.4g), MLP per-%s (%.4g, %.4g)\n",
            l, c.axis[0] == quant::Axis::kColumn ? "IC" : "OC", c.rel_error[0][0], c.rel_error[0][1],
            c.axis[1] == quant::Axis::kColumn ? "IC" : "OC", c.rel_error[1][0], c.rel_error[1][1]);
    }
    calibrate_block(block, x_search, kc, vc, rope);
    model::check_finite(x_search.flat(), where + " output of the quantized block");
    times.weights += block.weight_seconds;
    times.search += tsearch.seconds() - block.weight_seconds;
    qm.adadim_per_ic += block.adadim_per_ic;
    qm.adadim_linears += block.adadim_linears;
    qm.auto_gptq_rows += block.auto_gptq_rows;
    qm.auto_rows += block.auto_rows;
    // 4. LWC: learn the weight clipping of the block with its transforms frozen.
    if (lwc) {
      const Timer tw;
      const BlockLoss loss = train_weight_clips(block, x_q, x_fp);
      qm.lwc_loss_first += loss.first;
      qm.lwc_loss_last += loss.last;
      times.weights += tw.seconds();
    }
    // 4b. Norm tweaking: the block's RMSNorm weights fitted to its output with everything else fixed.
    if (opts.norm_tweak) {
      const Timer tn;
      const BlockLoss loss = tweak_norms(block, x_q, x_fp);
      qm.norm_tweak_loss_before += loss.first;
      qm.norm_tweak_loss_after += loss.last;
      times.weights += tn.seconds();
    }
    // 5. The windows through the finished quantized block: the next block's quantized-propagated inputs.
    const Timer tp;
    const model::FloatLinears lin(w);
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
