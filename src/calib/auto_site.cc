#include "calib/auto_site.h"

#include <cstdio>

#include "calib/auto_select.h"
#include "calib/gptq_sites.h"
#include "calib/site_search.h"
#include "calib/wide_channels.h"
#include "core/error.h"
#include "quant/gptq.h"

namespace duq::calib {

void choose_auto_qk_clip(BlockState& b) {
  DUQ_CHECK(b.windows && b.rope, "duquant-auto: no calibration windows");
  std::vector<std::pair<Mat, Mat>> qk;
  for_each_qk(b.cfg, b.layer, b.w, b.rt, spaced_windows(*b.windows, b.opts.auto_rows), *b.rope,
              [&](ConstMatView q, ConstMatView k) { qk.emplace_back(Mat(q), Mat(k)); });
  const AutoGrid grid;
  const QkClipResult r =
      choose_qk_clip(qk, b.cfg.head_dim(), b.cfg.n_heads, b.cfg.n_kv_heads, b.opts.abits, b.opts.kv(), grid);
  b.rt.set_qk_clip(b.layer, r.clip);
  if (b.opts.progress) {
    std::fprintf(stderr, "layer %d q/k: clip %.2f (logit errors:", b.layer, r.clip);
    for (size_t i = 0; i < r.rel_error.size(); ++i)
      std::fprintf(stderr, " %.2f %.4f", grid.qk_clips[i], r.rel_error[i]);
    std::fprintf(stderr, ")\n");
  }
}

void choose_auto_site(BlockState& b, model::Site site, ConstMatView x, SiteTransform& st, SiteReport& rep) {
  DUQ_CHECK(b.windows && b.rope, "duquant-auto: no calibration windows");
  const QuantOptions& opts = b.opts;
  const Mat rows = site_inputs(b.cfg, b.layer, b.w, b.rt, site, *b.windows, *b.rope, opts.auto_rows);
  auto cons = site_consumers(b.w, site);
  const int64_t D = x.cols;
  if (opts.wide_channels > 0) check_wide_channels(opts.wide_channels, D, b.layer, site);
  // DuQuant's smoothing Λ was set up at the block's start exactly as for duquant: folded into norms / W_v /
  // W_up (then x here is already x·Λ⁻¹, and folding into W_v also flattens the V cache) or, where it cannot
  // be folded, online in st.smooth. Candidates without smoothing undo a folded Λ online (x·Λ).
  const std::vector<float>& folded = b.smooth_folded[static_cast<size_t>(site)];
  const std::vector<float> online = st.smooth;
  std::vector<float> unfold;
  unfold.reserve(folded.size());
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
  draw_hadamard(opts, b.layer, site, D, add("rotation", unfold));
  Mat xs(x);  // the search input: x·Λ⁻¹
  if (!online.empty())
    for (int64_t t = 0; t < xs.rows(); ++t)
      for (int64_t j = 0; j < D; ++j) xs(t, j) /= online[static_cast<size_t>(j)];
  add("duquant", online).duquant = search_duquant(opts, b.layer, site, xs);
  std::vector<const Mat*> ws(cons.begin(), cons.end());
  quant::GptqOptions go;
  go.damp = opts.gptq_damp;
  go.block = opts.gptq_block;
  go.act_order = opts.act_order;
  AutoResult r = auto_select(rows, ws, cand, opts.wbits, opts.abits, AutoGrid{}, opts.auto_gptq ? &go : nullptr,
                             opts.wide_channels);
  b.auto_gptq_rows += r.gptq_rows;
  if (opts.wbits != kNoQuant)
    for (const Mat* m : cons) b.auto_rows += static_cast<int>(m->rows());
  for (size_t c = 0; c < cand.size(); ++c)
    rep.auto_candidates.push_back({cand[c].name, r.rel_error[c], r.best_act_clip[c]});
  st = std::move(cand[r.chosen].st);
  st.choice = cand[r.chosen].name;
  st.wide = r.wide[r.chosen];
  st.act_clip = opts.abits == kNoQuant ? 0.f : r.act_clip;
  auto slots = site_code_slots(b.codes, site);
  for (size_t i = 0; i < cons.size(); ++i) {
    st.fold_weight(*cons[i]);
    if (opts.wbits == kNoQuant) continue;
    quant::QuantizedMat q = std::move(r.codes[i]);
    b.codes.row_clip[static_cast<size_t>(first_linear(site)) + i] = std::move(r.row_clip[i]);
    *slots[i] = std::move(q);
    quant::dequantize(**slots[i], *cons[i]);
    if (!st.wide.empty()) {  // the low-bit codes are zero there already; the 8-bit columns go in
      b.codes.wide[static_cast<size_t>(first_linear(site)) + i] = std::move(r.wide_codes[i]);
      apply_wide_codes(b, first_linear(site) + static_cast<int>(i), st.wide);
    }
  }
  if (opts.progress) {
    std::fprintf(stderr, "layer %d %s: %s, act clip %.2f%s (errors:", b.layer, model::site_name(site),
                 st.choice.c_str(), st.act_clip,
                 st.wide.empty() ? "" : (", " + std::to_string(st.wide.size()) + " wide channels").c_str());
    for (const auto& e : rep.auto_candidates) std::fprintf(stderr, " %s %.4f", e.name.c_str(), e.rel_error);
    std::fprintf(stderr, ")\n");
  }
}

}  // namespace duq::calib
