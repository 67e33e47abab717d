#include "calib/gptq_sites.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/gemm_f32.h"

namespace duq::calib {

namespace {

struct StopAtSite {};

// Lets the forward run as the runtime hooks do up to `site`, hands the site's raw input to `f` and stops.
class CatchHook : public model::ForwardHooks {
 public:
  CatchHook(SimQuantHooks& rt, model::Site site, const std::function<void(MatView)>& f) : rt_(rt), site_(site), f_(f) {}
  void linear_input(int layer, model::Site s, MatView x) override {
    if (s != site_) {
      rt_.linear_input(layer, s, x);
      return;
    }
    f_(x);
    throw StopAtSite{};
  }
  void qk(int layer, MatView q, MatView k) override { rt_.qk(layer, q, k); }
  void v(int layer, MatView v) override { rt_.v(layer, v); }

 private:
  SimQuantHooks& rt_;
  model::Site site_;
  const std::function<void(MatView)>& f_;
};

// Lets the forward run as the runtime hooks do up to Q/K, hands them over rotated per head, and stops.
class QkCatchHook : public model::ForwardHooks {
 public:
  QkCatchHook(SimQuantHooks& rt, const std::function<void(MatView, MatView)>& f) : rt_(rt), f_(f) {}
  void linear_input(int layer, model::Site s, MatView x) override { rt_.linear_input(layer, s, x); }
  void qk(int, MatView q, MatView k) override {
    if (rt_.head_rotation().size()) {
      rotate_heads(q, static_cast<int>(rt_.head_rotation().rows()), rt_.head_rotation());
      rotate_heads(k, static_cast<int>(rt_.head_rotation().rows()), rt_.head_rotation());
    }
    f_(q, k);
    throw StopAtSite{};
  }
  void v(int layer, MatView v) override { rt_.v(layer, v); }

 private:
  SimQuantHooks& rt_;
  const std::function<void(MatView, MatView)>& f_;
};

}  // namespace

namespace {

// Each window through block `layer` with `hook`, which stops the forward (StopAtSite) where it caught its input.
void run_until_caught(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                      const std::vector<Mat>& windows, const kernels::RopeTable& rope, model::ForwardHooks& hook,
                      const char* where) {
  model::FloatLinears lin(w);
  for (const Mat& win : windows) {
    Mat x(win);
    Mat kc(x.rows(), cfg.kv_dim()), vc(x.rows(), cfg.kv_dim());
    bool reached = false;
    try {
      model::block_forward(cfg, layer, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, &hook);
    } catch (const StopAtSite&) {
      reached = true;
    }
    DUQ_CHECK(reached, "the calibration forward never reached ", where);
  }
}

}  // namespace

void for_each_qk(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                 const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                 const std::function<void(MatView, MatView)>& f) {
  QkCatchHook hook(runtime, f);
  run_until_caught(cfg, layer, w, windows, rope, hook, "the attention");
}

std::vector<Mat> spaced_windows(const std::vector<Mat>& windows, int64_t max_rows) {
  DUQ_CHECK(!windows.empty() && max_rows > 0);
  const int64_t per = windows.front().rows();
  const size_t take = static_cast<size_t>(std::clamp<int64_t>(max_rows / per, 1, static_cast<int64_t>(windows.size())));
  std::vector<Mat> chosen;
  for (size_t i = 0; i < take; ++i) chosen.push_back(windows[i * windows.size() / take]);
  return chosen;
}

void for_each_site_input(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                         SimQuantHooks& runtime, model::Site site, const std::vector<Mat>& windows,
                         const kernels::RopeTable& rope, const std::function<void(MatView)>& f) {
  CatchHook hook(runtime, site, f);
  run_until_caught(cfg, layer, w, windows, rope, hook, "the site");
}

quant::Hessian site_hessian(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, model::Site site, const SiteTransform& st,
                            const std::vector<Mat>& windows, const kernels::RopeTable& rope, bool after_act_quant) {
  quant::Hessian h(site_width(cfg, site));
  for_each_site_input(cfg, layer, w, runtime, site, windows, rope, [&](MatView x) {
    Mat xt(x);
    st.apply(xt);
    if (after_act_quant) runtime.quantize_activation(xt, st.act_clip);
    Mat g(xt.cols(), xt.cols());
    kernels::matmul_at_b(xt, xt, g);
    h.add_gram(g, xt.rows());
  });
  return h;
}

Mat site_inputs(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                model::Site site, const std::vector<Mat>& windows, const kernels::RopeTable& rope, int64_t max_rows) {
  // Whole windows (the forward needs them), evenly spaced when they hold more than max_rows rows.
  const std::vector<Mat> chosen = spaced_windows(windows, max_rows);
  Mat out(static_cast<int64_t>(chosen.size()) * chosen.front().rows(), site_width(cfg, site));
  int64_t row = 0;
  for_each_site_input(cfg, layer, w, runtime, site, chosen, rope, [&](MatView x) {
    for (int64_t t = 0; t < x.rows; ++t, ++row)
      for (int64_t j = 0; j < x.cols; ++j) out(row, j) = x(t, j);
  });
  return out;
}

}  // namespace duq::calib
