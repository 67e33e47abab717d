#include "calib/weight_rounding.h"

#include <cstdio>

#include "calib/gptq_sites.h"
#include "calib/lwc.h"
#include "core/error.h"
#include "quant/adadim.h"
#include "quant/gptq.h"

namespace duq::calib {

using model::Site;

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

namespace {

quant::GptqOptions gptq_options(const QuantOptions& o) {
  quant::GptqOptions go;
  go.damp = o.gptq_damp;
  go.block = o.gptq_block;
  go.act_order = o.act_order;
  return go;
}

// H = 2·Σ(xG)ᵀ(xG)/N of the site's transformed input over all calibration windows [D×D].
quant::Hessian hessian(BlockState& b, Site site, const SiteTransform& st) {
  DUQ_CHECK(b.windows && b.rope, "weight rounding: no calibration windows for the Hessian");
  quant::Hessian h = site_hessian(b.cfg, b.layer, b.w, b.rt, site, st, *b.windows, *b.rope, /*after_act_quant=*/false);
  h.drop_channels(st.wide);  // wide columns are rounded apart (wide_channels.h)
  return h;
}

void store(std::optional<quant::QuantizedMat>& slot, quant::QuantizedMat q, Mat& w) {
  slot = std::move(q);
  quant::dequantize(*slot, w);
}

void round_rtn(BlockState& b, Site site) {
  const quant::QuantSpec spec = weight_spec(b.opts);
  auto cons = site_consumers(b.w, site);
  auto slots = site_code_slots(b.codes, site);
  for (size_t i = 0; i < cons.size(); ++i) store(*slots[i], quant::quantize(*cons[i], spec), *cons[i]);
}

void round_gptq(BlockState& b, Site site, const SiteTransform& st) {
  const quant::QuantSpec spec = weight_spec(b.opts);
  auto cons = site_consumers(b.w, site);
  auto slots = site_code_slots(b.codes, site);
  const quant::Hessian h = hessian(b, site, st);
  quant::GptqOptions go = gptq_options(b.opts);
  for (size_t i = 0; i < cons.size(); ++i) {
    if (b.opts.quarot_weight_grid() && spec.group_size == 0) go.row_clip = quant::mse_row_clips(*cons[i], spec);
    store(*slots[i], quant::gptq_quantize(*cons[i], h, spec, go), *cons[i]);
  }
}

// AdaDim's official per-module choice (made at the block's start): the module's grouping axis, then RTN, or
// GPTQ with act-order in that dimension (the official code).
void round_adadim_module(BlockState& b, Site site, const SiteTransform& st) {
  const bool gptq = b.opts.method.rounding == Rounding::AdaDimGptq;
  quant::QuantSpec s = weight_spec(b.opts);
  s.axis = b.adadim_module->axis[site == Site::AttnIn || site == Site::AttnOut ? 0 : 1];
  auto cons = site_consumers(b.w, site);
  auto slots = site_code_slots(b.codes, site);
  std::optional<quant::Hessian> h;
  if (gptq) h = hessian(b, site, st);
  quant::GptqOptions ga = gptq_options(b.opts);
  ga.act_order = true;
  for (size_t i = 0; i < cons.size(); ++i) {
    store(*slots[i], gptq ? quant::gptq_quantize(*cons[i], *h, s, ga) : quant::quantize(*cons[i], s), *cons[i]);
    b.adadim_per_ic += s.axis == quant::Axis::kColumn;
    ++b.adadim_linears;
  }
}

// AdaDim per linear (--adadim-per-linear): per-IC or per-OC by each linear's output error; with GPTQ
// cross-validated on two halves of the windows (quant/adadim.h), H then being their merge.
void round_adadim_per_linear(BlockState& b, Site site, const SiteTransform& st) {
  const bool gptq = b.opts.method.rounding == Rounding::AdaDimGptq;
  const quant::QuantSpec spec = weight_spec(b.opts);
  auto cons = site_consumers(b.w, site);
  auto slots = site_code_slots(b.codes, site);
  std::optional<quant::Hessian> h;
  if (gptq && b.windows && b.windows->size() >= 2) {
    std::array<std::vector<Mat>, 2> half;
    for (size_t i = 0; i < b.windows->size(); ++i) half[i % 2].push_back((*b.windows)[i]);
    for (int f = 0; f < 2; ++f)
      b.adadim_folds[static_cast<size_t>(f)] =
          site_hessian(b.cfg, b.layer, b.w, b.rt, site, st, half[static_cast<size_t>(f)], *b.rope, false);
    h = b.adadim_folds[0];
    h->merge(b.adadim_folds[1]);
  } else {
    h = hessian(b, site, st);
  }
  const quant::GptqOptions go = gptq_options(b.opts);
  const std::array<const quant::Hessian*, 2> folds = {&b.adadim_folds[0], &b.adadim_folds[1]};
  const bool cv = gptq && b.adadim_folds[0].rows() > 0;
  std::vector<quant::AdaDimResult> ada;
  for (size_t i = 0; i < cons.size(); ++i)
    ada.push_back(quant::adadim_quantize(*cons[i], *h, spec, gptq, go, cv ? &folds : nullptr));
  // The choices reported and stored in consumer order.
  for (size_t i = 0; i < cons.size(); ++i) {
    b.adadim_per_ic += ada[i].q.spec.axis == quant::Axis::kColumn;
    if (b.opts.progress)
      std::fprintf(stderr, "layer %d %s consumer %zu: per-%s groups (output error per-OC %.4g, per-IC %.4g%s)\n",
                   b.layer, model::site_name(site), i, ada[i].q.spec.axis == quant::Axis::kColumn ? "IC" : "OC",
                   ada[i].error_oc, ada[i].error_ic, b.adadim_folds[0].rows() > 0 ? ", cross-validated" : "");
    ++b.adadim_linears;
    store(*slots[i], std::move(ada[i].q), *cons[i]);
  }
}

// LWC's (and duquant+learn's) starting point: the transformed float weights kept for the training, the codes
// at the initial clip (replaced once the block's clips are trained).
void start_lwc(BlockState& b, Site site) {
  auto cons = site_consumers(b.w, site);
  auto slots = site_code_slots(b.codes, site);
  for (size_t i = 0; i < cons.size(); ++i) {
    b.folded[static_cast<size_t>(first_linear(site)) + i] = Mat(*cons[i]);
    store(*slots[i], lwc_quantize(*cons[i], LwcRow(cons[i]->rows()), b.opts.wbits), *cons[i]);
  }
}

}  // namespace

void round_site_weights(BlockState& b, Site site, const SiteTransform& st) {
  if (b.opts.wbits == kNoQuant) return;
  switch (b.opts.method.rounding) {
    case Rounding::Float: return;
    case Rounding::Rtn: return round_rtn(b, site);
    case Rounding::Gptq: return round_gptq(b, site, st);
    case Rounding::AdaDim:
    case Rounding::AdaDimGptq:
      return b.adadim_module ? round_adadim_module(b, site, st) : round_adadim_per_linear(b, site, st);
    case Rounding::Lwc:
    case Rounding::LearnedRotation: return start_lwc(b, site);
    case Rounding::Auto: fail("duquant-auto rounds its weights in its own choice (auto_site.h)");
  }
}

}  // namespace duq::calib
