#include "calib/adadim_module.h"

#include "model/forward.h"
#include "quant/uniform.h"

namespace duq::calib {

namespace {

// Float linears that also keep each window's o-projection and down-projection outputs (the two modules').
class CaptureLinears : public model::BlockLinears {
 public:
  explicit CaptureLinears(const model::LayerWeights& w) : f_(w) {}
  std::vector<Mat> out[2];  // [attention, MLP] per window
  void attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const override { f_.attn_in(xn, q, k, v); }
  void attn_out(ConstMatView att, MatView y) const override {
    f_.attn_out(att, y);
    const_cast<CaptureLinears*>(this)->out[0].emplace_back(ConstMatView(y));
  }
  void ffn_in(ConstMatView xn, MatView gate, MatView up) const override { f_.ffn_in(xn, gate, up); }
  void down(ConstMatView act, MatView y) const override {
    f_.down(act, y);
    const_cast<CaptureLinears*>(this)->out[1].emplace_back(ConstMatView(y));
  }

 private:
  model::FloatLinears f_;
};

CaptureLinears run(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                   const std::vector<Mat>& windows, const kernels::RopeTable& rope) {
  CaptureLinears cap(w);
  for (const Mat& x0 : windows) {
    Mat x(x0), kc(x0.rows(), cfg.kv_dim()), vc(x0.rows(), cfg.kv_dim());
    model::block_forward(cfg, layer, w.attn_norm, w.ffn_norm, cap, x, 0, kc, vc, rope, nullptr);
  }
  return cap;
}

}  // namespace

AdaDimModuleChoice adadim_module_choice(const model::ModelConfig& cfg, int layer, const model::LayerWeights& w,
                                        const std::vector<Mat>& windows, const kernels::RopeTable& rope,
                                        const quant::QuantSpec& spec) {
  const CaptureLinears ref = run(cfg, layer, w, windows, rope);
  AdaDimModuleChoice c;
  for (int m = 0; m < 2; ++m)
    for (int a = 0; a < 2; ++a) {
      model::LayerWeights q = w;
      quant::QuantSpec s = spec;
      s.axis = a == 0 ? quant::Axis::kRow : quant::Axis::kColumn;
      const std::vector<Mat*> lins =
          m == 0 ? std::vector<Mat*>{&q.wq, &q.wk, &q.wv, &q.wo} : std::vector<Mat*>{&q.w_gate, &q.w_up, &q.w_down};
      for (Mat* l : lins) quant::fake_quant(*l, s);
      const CaptureLinears got = run(cfg, layer, q, windows, rope);
      double num = 0, den = 0;
      for (size_t n = 0; n < ref.out[m].size(); ++n)
        for (int64_t i = 0; i < ref.out[m][n].size(); ++i) {
          const double r = ref.out[m][n].data()[i], d = got.out[m][n].data()[i] - r;
          num += d * d;
          den += r * r;
        }
      c.rel_error[static_cast<size_t>(m)][static_cast<size_t>(a)] = den > 0 ? num / den : 0.0;
    }
  for (size_t m = 0; m < 2; ++m)
    c.axis[m] = c.rel_error[m][1] < c.rel_error[m][0] ? quant::Axis::kColumn : quant::Axis::kRow;
  return c;
}

}  // namespace duq::calib
