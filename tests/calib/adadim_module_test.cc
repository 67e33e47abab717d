// AdaDim's official per-module choice: attention (q, k, v, o) and MLP (gate, up, down) each get one axis,
// chosen by the module's output error with RTN. Planted structure decides it: attention weights whose input
// channels (columns) differ in scale by 10³ quantize far better per input channel (one grid per column), MLP
// weights whose output channels (rows) differ in scale quantize better per output channel.
#include <gtest/gtest.h>

#include <cmath>

#include "calib/pipeline.h"
#include "core/rng.h"
#include "model/synthetic.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

TEST(AdaDimModule, OneAxisPerModuleByModuleOutputError) {
  const model::ModelConfig c = test::tiny_config();
  model::ModelWeights w = model::random_weights(c, 3);
  auto& L = w.layers[0];
  const float scale[4] = {1.f, 10.f, 100.f, 1000.f};
  for (Mat* m : {&L.wq, &L.wk, &L.wv, &L.wo})
    for (int64_t i = 0; i < m->rows(); ++i)
      for (int64_t j = 0; j < m->cols(); ++j) (*m)(i, j) *= scale[j % 4] / 1000.f;  // per input channel
  for (Mat* m : {&L.w_gate, &L.w_up, &L.w_down})
    for (int64_t i = 0; i < m->rows(); ++i)
      for (int64_t j = 0; j < m->cols(); ++j) (*m)(i, j) *= scale[i % 4] / 1000.f;  // per output channel
  const model::MemoryWeights src(c, w);
  std::vector<std::vector<int>> windows;
  Rng rng(8);
  for (int n = 0; n < 2; ++n) {
    windows.emplace_back();
    for (int t = 0; t < 16; ++t) windows.back().push_back(static_cast<int>(rng.below(48)));
  }
  for (Method m : {Method::AdaDim, Method::AdaDimGptq}) {
    QuantOptions o;
    o.method = m;
    o.wbits = 3;
    o.abits = kNoQuant;
    o.progress = false;
    const QuantizedModel qm = quantize_model(src, windows, o);
    const LayerCodes& k = qm.codes[0];
    for (const auto* q : {&k.wq, &k.wk, &k.wv, &k.wo})
      EXPECT_EQ((*q)->spec.axis, quant::Axis::kColumn) << method_name(m);
    for (const auto* q : {&k.w_gate, &k.w_up, &k.w_down})
      EXPECT_EQ((*q)->spec.axis, quant::Axis::kRow) << method_name(m);
    EXPECT_EQ(qm.adadim_per_ic, 4);
    EXPECT_EQ(qm.adadim_linears, 7);
  }
}

}  // namespace
}  // namespace duq::calib
