#include "calib/gptq_sites.h"

#include "core/error.h"
#include "kernels/gemm_f32.h"

namespace duq::calib {

namespace {

struct StopAtSite {};

class HessianHook : public model::ForwardHooks {
 public:
  HessianHook(SimQuantHooks& rt, model::Site site, const SiteTransform& st, quant::Hessian& h, bool after_act_quant)
      : rt_(rt), site_(site), st_(st), h_(h), after_(after_act_quant) {}
  void linear_input(int layer, model::Site s, MatView x) override {
    if (s != site_) {
      rt_.linear_input(layer, s, x);
      return;
    }
    Mat xt(x);
    st_.apply(xt);
    if (after_) rt_.quantize_activation(xt);
    Mat g(xt.cols(), xt.cols());
    kernels::matmul_at_b(xt, xt, g);
    h_.add_gram(g, xt.rows());
    throw StopAtSite{};
  }
  void qk(int layer, MatView q, MatView k) override { rt_.qk(layer, q, k); }
  void v(int layer, MatView v) override { rt_.v(layer, v); }

 private:
  SimQuantHooks& rt_;
  model::Site site_;
  const SiteTransform& st_;
  quant::Hessian& h_;
  bool after_;
};

}  // namespace

quant::Hessian site_hessian(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, model::Site site, const SiteTransform& st,
                            const std::vector<Mat>& windows, const kernels::RopeTable& rope, bool after_act_quant) {
  const int64_t width = site == model::Site::AttnOut ? cfg.q_dim() : (site == model::Site::DownIn ? cfg.hidden_dim : cfg.dim);
  quant::Hessian h(width);
  model::FloatLinears lin(w);
  for (const Mat& win : windows) {
    Mat x(win);
    Mat kc(x.rows(), cfg.kv_dim()), vc(x.rows(), cfg.kv_dim());
    HessianHook hook(runtime, site, st, h, after_act_quant);
    bool reached = false;
    try {
      model::block_forward(cfg, layer, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, &hook);
    } catch (const StopAtSite&) {
      reached = true;
    }
    DUQ_CHECK(reached, "site_hessian: the forward never reached the site");
  }
  return h;
}

}  // namespace duq::calib
