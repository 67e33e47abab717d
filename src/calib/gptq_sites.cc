#include "calib/gptq_sites.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/gemm_f32.h"
#include "kernels/nn_ops.h"

namespace duq::calib {

namespace {

// The runtime hooks at every point of the forward before `end` (the sites there already transformed and
// quantized, as at run time); at `end` the point's raw data goes to a read-only observer instead.
class RunThenObserve : public model::ForwardHooks {
 public:
  RunThenObserve(SimQuantHooks& rt, model::BlockPoint end, model::ForwardObserver& at_end)
      : rt_(rt), end_(end), obs_(at_end) {}
  void linear_input(int layer, model::Site s, MatView x) override {
    if (model::point_of(s) == end_) obs_.linear_input(layer, s, x);
    else rt_.linear_input(layer, s, x);
  }
  void qk(int layer, MatView q, MatView k) override {
    if (end_ == model::BlockPoint::Qk) obs_.qk(layer, q, k);
    else rt_.qk(layer, q, k);
  }
  void v(int layer, MatView v) override { rt_.v(layer, v); }

 private:
  SimQuantHooks& rt_;
  model::BlockPoint end_;
  model::ForwardObserver& obs_;
};

// Each window through block `layer` up to `end` (the rest of the block is not run), `observer` seeing the
// data at `end`.
void run_to(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
            const std::vector<Mat>& windows, const kernels::RopeTable& rope, model::BlockPoint end,
            model::ForwardObserver& observer) {
  model::FloatLinears lin(w);
  RunThenObserve hooks(runtime, end, observer);
  for (const Mat& win : windows) {
    Mat x(win);
    Mat kc(x.rows(), cfg.kv_dim()), vc(x.rows(), cfg.kv_dim());
    model::block_forward(cfg, layer, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, rope, &hooks, end);
  }
}

// Hands a site's input to f.
class SiteInput : public model::ForwardObserver {
 public:
  explicit SiteInput(const std::function<void(ConstMatView)>& f) : f_(f) {}
  void linear_input(int, model::Site, ConstMatView x) override { f_(x); }

 private:
  const std::function<void(ConstMatView)>& f_;
};

// Hands Q and K to f as the runtime quantizes them: K centered (--k-center), each head rotated by the runtime's
// head rotation (copies: the forward's own are not touched).
class RotatedQk : public model::ForwardObserver {
 public:
  RotatedQk(const SimQuantHooks& rt, const std::function<void(ConstMatView, ConstMatView)>& f) : rt_(rt), f_(f) {}
  void qk(int layer, ConstMatView q, ConstMatView k) override {
    Mat qr(q), kr(k);
    if (!rt_.k_center(layer).empty()) kernels::subtract_from_rows(kr, rt_.k_center(layer));
    if (rt_.head_rotation().size()) {
      rotate_heads(qr, static_cast<int>(rt_.head_rotation().rows()), rt_.head_rotation());
      rotate_heads(kr, static_cast<int>(rt_.head_rotation().rows()), rt_.head_rotation());
    }
    f_(qr, kr);
  }

 private:
  const SimQuantHooks& rt_;
  const std::function<void(ConstMatView, ConstMatView)>& f_;
};

}  // namespace

void for_each_qk(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                 const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                 const std::function<void(ConstMatView, ConstMatView)>& f) {
  RotatedQk observer(runtime, f);
  run_to(cfg, layer, w, runtime, windows, rope, model::BlockPoint::Qk, observer);
}

std::vector<float> key_mean(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, const std::vector<Mat>& windows, const kernels::RopeTable& rope) {
  struct KeySum : model::ForwardObserver {
    std::vector<double> sum;
    int64_t rows = 0;
    void qk(int, ConstMatView, ConstMatView k) override {
      sum.resize(static_cast<size_t>(k.cols), 0.0);
      for (int64_t t = 0; t < k.rows; ++t)
        for (int64_t j = 0; j < k.cols; ++j) sum[static_cast<size_t>(j)] += k(t, j);
      rows += k.rows;
    }
  } keys;
  run_to(cfg, layer, w, runtime, windows, rope, model::BlockPoint::Qk, keys);
  DUQ_CHECK(keys.rows > 0);
  std::vector<float> mean(keys.sum.size());
  for (size_t j = 0; j < mean.size(); ++j) mean[j] = static_cast<float>(keys.sum[j] / static_cast<double>(keys.rows));
  return mean;
}

std::vector<Mat> spaced_windows(const std::vector<Mat>& windows, int64_t max_rows) {
  DUQ_CHECK(!windows.empty() && max_rows > 0);
  const int64_t per = windows.front().rows();
  const size_t take = static_cast<size_t>(std::clamp<int64_t>(max_rows / per, 1, static_cast<int64_t>(windows.size())));
  std::vector<Mat> chosen;
  for (size_t i = 0; i < take; ++i) chosen.push_back(windows[i * windows.size() / take]);
  return chosen;
}

void for_each_site_input(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w, SimQuantHooks& runtime,
                         model::Site site, const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                         const std::function<void(ConstMatView)>& f) {
  SiteInput observer(f);
  run_to(cfg, layer, w, runtime, windows, rope, model::point_of(site), observer);
}

quant::Hessian site_hessian(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                            SimQuantHooks& runtime, model::Site site, const SiteTransform& st,
                            const std::vector<Mat>& windows, const kernels::RopeTable& rope, bool after_act_quant) {
  quant::Hessian h(site_width(cfg, site));
  for_each_site_input(cfg, layer, w, runtime, site, windows, rope, [&](ConstMatView x) {
    Mat xt(x);
    st.apply(xt);
    if (after_act_quant) runtime.quantize_site_activation(xt, st);
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
  for_each_site_input(cfg, layer, w, runtime, site, chosen, rope, [&](ConstMatView x) {
    for (int64_t t = 0; t < x.rows; ++t, ++row)
      for (int64_t j = 0; j < x.cols; ++j) out(row, j) = x(t, j);
  });
  return out;
}

}  // namespace duq::calib
