#include "calib/block_training.h"

#include <algorithm>
#include <cstdio>

#include "calib/learned_rotation.h"
#include "calib/lwc.h"
#include "calib/norm_tweak.h"
#include "calib/wide_channels.h"
#include "core/progress.h"
#include "kernels/gemm_f32.h"
#include "model/quant_model.h"

namespace duq::calib {

namespace {

// What block_grad quantizes: the options' bits and clips, each site's own activation clip (duquant-auto)
// and wide channels.
BlockQuantSpec block_quant_spec_of(const BlockState& b, const SiteTransforms& sites) {
  BlockQuantSpec qs = block_quant_spec(b.opts);
  for (int s = 0; s < model::kNumSites; ++s) {
    qs.site_lac[static_cast<size_t>(s)] = sites[static_cast<size_t>(s)].act_clip;
    qs.site_wide[static_cast<size_t>(s)] = sites[static_cast<size_t>(s)].wide;
  }
  return qs;
}

const std::vector<int32_t>& wide_of(const SiteTransforms& sites, int linear) {
  return sites[static_cast<size_t>(model::site_of_linear(linear))].wide;
}

std::array<const Mat*, kNumLinears> folded_weights(const BlockState& b) {
  std::array<const Mat*, kNumLinears> fw;
  for (int i = 0; i < kNumLinears; ++i) fw[static_cast<size_t>(i)] = &b.folded[static_cast<size_t>(i)];
  return fw;
}

// LWC: learns the clip of the seven linears, then stores the final codes.
BlockLoss lwc_block(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out) {
  const SiteTransforms& sites = b.rt.sites()[static_cast<size_t>(b.layer)];
  const BlockParams<float> fixed = frozen_block_params(b.cfg, b.w, sites, b.rt.head_rotation(), b.rt.k_center(b.layer));
  const BlockQuantSpec qs = block_quant_spec_of(b, sites);
  LwcOptions lo;
  lo.epochs = b.opts.lwc_epochs;
  lo.lr = b.opts.lwc_lr;
  lo.wbits = b.opts.wbits;
  std::array<Mat, kNumLinears> wide_dense;  // --wide-channels: the fixed 8-bit columns
  for (int i = 0; i < kNumLinears; ++i)
    if (!wide_of(sites, i).empty()) {
      wide_dense[static_cast<size_t>(i)] = wide_columns_dense(b, i, wide_of(sites, i));
      lo.wide_part[static_cast<size_t>(i)] = &wide_dense[static_cast<size_t>(i)];
    }
  Timer t;
  const LwcResult r = lwc_train_block(b.cfg, qs, fixed, folded_weights(b), x_q, fp_out, lo);
  if (b.opts.progress)
    std::fprintf(stderr,
                 "layer %d LWC: block loss %.5g -> %.5g over %d steps (%.1f s), %d non-finite epochs rolled back\n",
                 b.layer, r.loss_first, r.loss_last, r.steps, t.seconds(), r.nan_epochs);
  auto ws = block_linears(b.w);
  auto cs = block_linear_codes(b.codes);
  for (int i = 0; i < kNumLinears; ++i) {
    *cs[static_cast<size_t>(i)] =
        lwc_quantize(b.folded[static_cast<size_t>(i)], r.rows[static_cast<size_t>(i)], b.opts.wbits);
    quant::dequantize(**cs[static_cast<size_t>(i)], *ws[static_cast<size_t>(i)]);
    if (!wide_of(sites, i).empty()) apply_wide_codes(b, i, wide_of(sites, i));
  }
  return {r.loss_first, r.loss_last};
}

// duquant+learn: learns a rotation after each input's R₂ jointly with LWC's clips (calib/learned_rotation.h),
// folds it into R₂ and stores the final codes.
BlockLoss learn_block(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out) {
  SiteTransforms& sites = b.rt.sites()[static_cast<size_t>(b.layer)];
  const BlockParams<float> fixed = frozen_block_params(b.cfg, b.w, sites, b.rt.head_rotation(), b.rt.k_center(b.layer));
  const BlockQuantSpec qs = block_quant_spec(b.opts);
  std::array<const transform::BlockRotation*, 4> layouts{};
  for (int s = 0; s < model::kNumSites; ++s) {
    const auto& dq = sites[static_cast<size_t>(s)].duquant;
    if (dq && !dq->rotations.empty()) layouts[static_cast<size_t>(s)] = &dq->rotations.back();
  }
  LearnOptions lo;
  lo.epochs = b.opts.lwc_epochs;
  lo.lr_clip = b.opts.lwc_lr;
  lo.angle = b.opts.learn_angle;
  lo.wbits = b.opts.wbits;
  Timer t;
  const LearnResult r = learn_train_block(b.cfg, qs, fixed, folded_weights(b), layouts, x_q, fp_out, lo);
  if (b.opts.progress)
    std::fprintf(stderr, "layer %d learned rotations + LWC: block loss %.5g -> %.5g over %d steps (%.1f s)\n", b.layer,
                 r.loss_first, r.loss_last, r.steps, t.seconds());
  constexpr int kSiteOf[kNumLinears] = {0, 0, 0, 1, 2, 2, 3};
  auto ws = block_linears(b.w);
  auto cs = block_linear_codes(b.codes);
  for (int i = 0; i < kNumLinears; ++i) {
    const Mat& folded = b.folded[static_cast<size_t>(i)];
    const auto& rot = r.rot[static_cast<size_t>(kSiteOf[i])];
    Mat wp(folded);
    if (rot) {
      const Mat d = rot->dense();
      kernels::matmul(folded, d, wp);
    }
    *cs[static_cast<size_t>(i)] = lwc_quantize(wp, r.rows[static_cast<size_t>(i)], b.opts.wbits);
    quant::dequantize(**cs[static_cast<size_t>(i)], *ws[static_cast<size_t>(i)]);
  }
  for (int s = 0; s < model::kNumSites; ++s)
    if (r.rot[static_cast<size_t>(s)])
      r.rot[static_cast<size_t>(s)]->fold_into(sites[static_cast<size_t>(s)].duquant->rotations.back());
  return {r.loss_first, r.loss_last};
}

}  // namespace

BlockLoss train_weight_clips(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out) {
  return b.opts.learns_rotation() ? learn_block(b, x_q, fp_out) : lwc_block(b, x_q, fp_out);
}

BlockLoss tweak_norms(BlockState& b, const std::vector<Mat>& x_q, const std::vector<Mat>& fp_out) {
  const SiteTransforms& sites = b.rt.sites()[static_cast<size_t>(b.layer)];
  BlockParams<float> p = frozen_block_params(b.cfg, b.w, sites, b.rt.head_rotation(), b.rt.k_center(b.layer));
  set_block_weights(b.w, p);
  BlockQuantSpec qs = block_quant_spec_of(b, sites);
  qs.qk_clip = b.rt.qk_clip(b.layer);
  NormTweakOptions no;
  no.epochs = b.opts.norm_tweak_epochs;
  no.lr = b.opts.norm_tweak_lr;
  Timer t;
  const NormTweakResult r = norm_tweak_block(b.cfg, qs, p, x_q, fp_out, no);
  if (b.opts.progress)
    std::fprintf(stderr, "layer %d norm tweak: block loss %.5g -> %.5g over %d steps (%.1f s)\n", b.layer,
                 r.loss_before, r.loss_after, r.steps, t.seconds());
  std::copy(r.attn_norm.begin(), r.attn_norm.end(), b.w.attn_norm.begin());
  std::copy(r.ffn_norm.begin(), r.ffn_norm.end(), b.w.ffn_norm.begin());
  return {r.loss_before, r.loss_after};
}

}  // namespace duq::calib
