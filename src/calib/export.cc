#include "calib/export.h"

#include "core/error.h"
#include "core/progress.h"

namespace duq::calib {

namespace {

model::OnlineTransform to_online(const SiteTransform& st) {
  model::OnlineTransform t;
  t.smooth = st.smooth;
  t.act_clip = st.act_clip;
  t.choice = st.choice;
  t.wide = st.wide;
  if (st.duquant) {
    t.kind = model::OnlineTransform::Kind::DuQuant;
    for (const auto& r : st.duquant->rotations) t.rotations.push_back({r.block, r.full, r.per_block, r.tail});
    for (const auto& p : st.duquant->perms) t.perms.emplace_back(p.begin(), p.end());
  } else if (st.hadamard) {
    t.kind = model::OnlineTransform::Kind::Hadamard;
    t.hadamard_seed = st.hadamard_seed;
  }
  return t;
}

SiteTransform from_online(const model::OnlineTransform& t, int64_t width) {
  SiteTransform st;
  st.smooth = t.smooth;
  st.act_clip = t.act_clip;
  st.choice = t.choice;
  st.wide = t.wide;
  if (t.kind == model::OnlineTransform::Kind::DuQuant) {
    st.duquant = model::duquant_transform_of(t, width);
  } else if (t.kind == model::OnlineTransform::Kind::Hadamard) {
    st.hadamard_seed = t.hadamard_seed;
    st.hadamard = std::make_shared<transform::RandomizedHadamard>(width, t.hadamard_seed);
  }
  return st;
}

kernels::PackedWeights pack(const std::optional<quant::QuantizedMat>& q, const char* name) {
  DUQ_CHECK(q.has_value(), "missing weight codes for ", name);
  const auto& m = *q;
  if (m.spec.axis != quant::Axis::kRow || m.groups_per_line != 1)
    fail("the quantized model file and the integer kernels hold per-output-channel weights only; ", name,
         " was quantized per group or per input channel (--group-size / adadim): evaluate it with "
         "`duquant compare`, which runs it simulated");
  std::vector<float> scale;
  std::vector<int32_t> zero;
  for (const auto& p : m.params) {
    scale.push_back(p.scale);
    zero.push_back(p.zero);
  }
  return kernels::pack_weights(m.codes.data(), m.cols, m.rows, m.cols, m.spec.bits <= 4 ? 4 : 8, scale.data(),
                               zero.data());
}

std::array<int64_t, model::kNumSites> site_widths(const model::ModelConfig& c) {
  return {c.dim, c.q_dim(), c.dim, c.hidden_dim};
}

}  // namespace

model::QuantModelData file_settings(const QuantizedModel& qm) {
  const QuantOptions& o = qm.opts;
  if (o.method == Method::Fp || o.wbits == kNoQuant)
    fail("a quantized model file needs quantized weights (got ", o.describe(), ")");
  model::QuantModelData d;
  d.cfg = qm.cfg;
  d.q.method = method_name(o.method);
  d.q.wbits = o.wbits;
  d.q.abits = o.abits;
  d.q.kv_bits = o.kv();
  d.q.lac = o.lac;
  d.q.qk_clip = o.qk_clip_ratio();
  d.q.swc = o.swc;
  d.q.description = o.describe();
  if (o.is_auto())
    for (int l = 0; l < qm.cfg.n_layers; ++l) d.q.qk_clip_layer.push_back(qm.hooks->qk_clip(l));
  if (o.k_center)
    for (int l = 0; l < qm.cfg.n_layers; ++l) d.q.k_center.push_back(qm.hooks->k_center(l));
  d.qk_rotation = qm.hooks->head_rotation();
  return d;
}

model::QuantLayer pack_layer(const model::LayerWeights& w, const LayerCodes& c, const SiteTransforms& sites) {
  model::QuantLayer L;
  L.attn_norm = w.attn_norm;
  L.ffn_norm = w.ffn_norm;
  for (int s = 0; s < model::kNumSites; ++s) L.sites[static_cast<size_t>(s)] = to_online(sites[static_cast<size_t>(s)]);
  L.wq = pack(c.wq, "wq");
  L.wk = pack(c.wk, "wk");
  L.wv = pack(c.wv, "wv");
  L.wo = pack(c.wo, "wo");
  L.w_gate = pack(c.w_gate, "w_gate");
  L.w_up = pack(c.w_up, "w_up");
  L.w_down = pack(c.w_down, "w_down");
  L.row_clip = c.row_clip;
  for (size_t i = 0; i < c.wide.size(); ++i)
    if (c.wide[i]) L.wide[i] = pack(c.wide[i], "wide columns");
  return L;
}

model::QuantModelData to_file_data(const QuantizedModel& qm, const std::string& tokenizer_kind,
                                   std::string tokenizer_bytes) {
  model::QuantModelData d = file_settings(qm);
  DUQ_CHECK(qm.model, "to_file_data: the blocks went to a BlockSink (pack them with pack_layer)");
  const model::ModelWeights& w = qm.model->weights();
  d.embed = w.embed;
  d.final_norm = w.final_norm;
  d.lm_head = w.lm_head;
  for (int l = 0; l < qm.cfg.n_layers; ++l)
    d.layers.push_back(pack_layer(w.layers[static_cast<size_t>(l)], qm.codes[static_cast<size_t>(l)],
                                  qm.hooks->sites()[static_cast<size_t>(l)]));
  d.tokenizer_kind = tokenizer_kind;
  d.tokenizer_bytes = std::move(tokenizer_bytes);
  return d;
}

model::QuantModelData quantize_to_file_data(const model::WeightSource& src,
                                            const std::vector<std::vector<int>>& windows, const QuantOptions& opts,
                                            QuantizedModel& qm) {
  std::vector<model::QuantLayer> layers;
  double pack_seconds = 0;
  qm = quantize_model(src, windows, opts,
                      [&](int, model::LayerWeights&& w, LayerCodes&& codes, const SiteTransforms& sites) {
                        const Timer t;
                        layers.push_back(pack_layer(w, codes, sites));
                        pack_seconds += t.seconds();
                      });  // w and codes are freed as each block returns
  qm.stages.pack = pack_seconds;
  model::QuantModelData d = file_settings(qm);
  d.layers = std::move(layers);
  d.embed = src.embedding();
  model::check_finite(d.embed.flat(), src.description() + ": token embedding");
  d.final_norm = src.final_norm();
  d.lm_head = src.lm_head();
  return d;
}

QuantizedModel simulated_from_file(const model::QuantModelData& d) {
  QuantizedModel qm;
  qm.cfg = d.cfg;
  QuantOptions& o = qm.opts;
  o.method = parse_method(d.q.method);
  o.wbits = d.q.wbits;
  o.abits = d.q.abits;
  o.kv_bits = d.q.kv_bits;
  o.lac = d.q.lac;
  o.qk_clip = d.q.qk_clip;
  o.swc = d.q.swc;
  o.qk_hadamard = 0;  // the stored rotation is installed below
  o.k_center = !d.q.k_center.empty();
  qm.hooks = std::make_unique<SimQuantHooks>(d.cfg, o);
  if (d.qk_rotation.size()) qm.hooks->set_head_rotation(d.qk_rotation);
  for (int l = 0; l < d.cfg.n_layers; ++l) qm.hooks->set_qk_clip(l, d.q.qk_clip_at(l));
  for (size_t l = 0; l < d.q.k_center.size(); ++l) qm.hooks->set_k_center(static_cast<int>(l), d.q.k_center[l]);
  model::ModelWeights w;
  w.embed = d.embed;
  w.final_norm = d.final_norm;
  w.lm_head = d.lm_head;
  const auto widths = site_widths(d.cfg);
  for (int l = 0; l < d.cfg.n_layers; ++l) {
    const auto& L = d.layers[static_cast<size_t>(l)];
    model::LayerWeights lw;
    lw.attn_norm = L.attn_norm;
    lw.ffn_norm = L.ffn_norm;
    lw.wq = kernels::dequantize_weights(L.wq);
    lw.wk = kernels::dequantize_weights(L.wk);
    lw.wv = kernels::dequantize_weights(L.wv);
    lw.wo = kernels::dequantize_weights(L.wo);
    lw.w_gate = kernels::dequantize_weights(L.w_gate);
    lw.w_up = kernels::dequantize_weights(L.w_up);
    lw.w_down = kernels::dequantize_weights(L.w_down);
    // --wide-channels: the 8-bit columns go where the low-bit codes hold 0 (the reader checked they do).
    const std::array<Mat*, 7> lin{&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.w_gate, &lw.w_up, &lw.w_down};
    for (size_t i = 0; i < lin.size(); ++i) {
      if (L.wide[i].rows == 0) continue;
      const auto& wide = L.sites[static_cast<size_t>(model::site_of_linear(static_cast<int>(i)))].wide;
      const Mat cols = kernels::dequantize_weights(L.wide[i]);
      for (int64_t r = 0; r < cols.rows(); ++r)
        for (size_t k = 0; k < wide.size(); ++k) (*lin[i])(r, wide[k]) = cols(r, static_cast<int64_t>(k));
    }
    for (int s = 0; s < model::kNumSites; ++s)
      qm.hooks->sites()[static_cast<size_t>(l)][static_cast<size_t>(s)] =
          from_online(L.sites[static_cast<size_t>(s)], widths[static_cast<size_t>(s)]);
    w.layers.push_back(std::move(lw));
  }
  qm.model = std::make_unique<model::Model>(d.cfg, std::move(w));
  return qm;
}

}  // namespace duq::calib
