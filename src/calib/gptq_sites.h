// Per-site Hessians for GPTQ / AdaDim inside the block-by-block pipeline: every calibration window, as
// propagated through the already-quantized blocks, runs through block `layer` (the sites before `site`
// already transformed and quantized, as the runtime hooks do) up to `site`; there its input x is transformed
// (x·G, the transform the consumers' weights W·G⁻ᵀ pair with) and H = 2·Σ(xG)ᵀ(xG)/N accumulated. The rest
// of the block is not run (the forward ends at the site: model::block_forward's end point, the reference's
// Catcher without its exception). The site's input is only observed (const views).
#pragma once
#include <functional>
#include <vector>

#include "calib/sim_quant.h"
#include "calib/site_transform.h"
#include "kernels/nn_ops.h"
#include "model/forward.h"
#include "model/weights.h"
#include "quant/gptq.h"

namespace duq::calib {

// Width of a site's input: dim, q_dim (o-projection input), dim, hidden_dim (down-projection input).
inline int64_t site_width(const model::ModelConfig& cfg, model::Site site) {
  return site == model::Site::AttnOut ? cfg.q_dim() : (site == model::Site::DownIn ? cfg.hidden_dim : cfg.dim);
}

// Runs each window through block `layer` (earlier sites transformed and quantized by `runtime`, as at run
// time) up to `site` and calls f with the site's raw input x [L×width] (not yet transformed).
void for_each_site_input(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                         model::Site site, const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                         const std::function<void(ConstMatView)>& f);

// Runs each window through block `layer` up to its attention and calls f(q, k) with Q [L×q_dim] and
// K [L×kv_dim] after RoPE and the runtime's head rotation, before their quantization.
void for_each_qk(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                 const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                 const std::function<void(ConstMatView, ConstMatView)>& f);

// The key center of --k-center: the mean over every row of every window of K [L×kv_dim] after RoPE (before any
// centering, head rotation or quantization), in double: [kv_dim].
std::vector<float> key_mean(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, const std::vector<Mat>& windows, const kernels::RopeTable& rope);

// Whole windows evenly spaced over `windows`, at most max_rows rows in all (at least one window).
std::vector<Mat> spaced_windows(const std::vector<Mat>& windows, int64_t max_rows);

// The site's raw inputs of (evenly spaced whole) windows, at most max_rows rows (at least one window):
// [rows × width].
Mat site_inputs(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                model::Site site, const std::vector<Mat>& windows, const kernels::RopeTable& rope, int64_t max_rows);

// after_act_quant: accumulate Q_a(x·G) (what the linear multiplies) instead of x·G.
quant::Hessian site_hessian(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, model::Site site, const SiteTransform& st,
                            const std::vector<Mat>& windows, const kernels::RopeTable& rope, bool after_act_quant);

}  // namespace duq::calib
