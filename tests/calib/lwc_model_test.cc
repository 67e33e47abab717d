// LWC's block forward is the quantized model's: on stories260K, the block_grad forward of a quantized block
// (dense G per site, head rotation, activation and Q/K/V quantization) reproduces model::block_forward with
// the simulated-quantization hooks. And a short LWC run lowers the block loss.
#include <gtest/gtest.h>

#include <cmath>

#include "calib/calib_data.h"
#include "calib/lwc.h"
#include "calib/pipeline.h"
#include "mat_compare.h"
#include "model/tokenizer.h"
#include "test_support.h"

namespace duq::calib {
namespace {

struct Stories {
  std::unique_ptr<model::WeightSource> src;
  std::vector<std::vector<int>> windows;
};

Stories load(int n, int len) {
  const auto dir = test::assets_dir() / "models" / "stories260K";
  Stories s;
  s.src = model::open_weights((dir / "stories260K.bin").string());
  auto tok = model::load_tokenizer((dir / "tok512.bin").string());
  const std::string text = test::read_text(test::assets_dir() / "text" / "tinystories" / "calib.txt");
  const std::vector<int> ids = tok->encode(text, true, false);
  s.windows = sample_windows(ids, n, len, 2, "calib.txt");
  return s;
}

TEST(LwcModel, BlockGradForwardMatchesQuantizedModel) {
  if (!std::filesystem::exists(test::assets_dir() / "models" / "stories260K")) GTEST_SKIP() << "no assets";
  Stories s = load(4, 64);
  const auto& cfg = s.src->config();
  struct Case {
    int wb, ab, kv;
    bool k_center;
  };
  for (auto [wb, ab, kv, k_center] : {Case{4, 16, 0, false}, Case{4, 4, 0, false}, Case{4, 16, 4, true}}) {
    QuantOptions o;
    o.method = Method::DuQuant;
    o.wbits = wb;
    o.abits = ab;
    o.kv_bits = kv;
    o.k_center = k_center;
    o.block = 64;
    o.block_explicit = true;
    o.steps = 16;
    o.nsamples = 4;
    o.calib_ctx = 64;
    o.progress = false;
    QuantizedModel qm = quantize_model(*s.src, s.windows, o);
    const int T = 48;
    Mat x = qm.model->embed(std::span<const int>(s.windows[1].data(), T));
    for (int l = 0; l < cfg.n_layers; ++l) {
      const auto& w = qm.model->weights().layers[static_cast<size_t>(l)];
      BlockParams<float> p = frozen_block_params(cfg, w, qm.hooks->sites()[static_cast<size_t>(l)],
                                                 qm.hooks->head_rotation(), qm.hooks->k_center(l));
      set_block_weights(w, p);
      Mat xin(T, cfg.dim), y;
      std::copy(x.data(), x.data() + x.size(), xin.data());
      block_loss_grad<float>(cfg, block_quant_spec(o), p, xin, xin, &y, nullptr, nullptr);
      Mat kc(T, cfg.kv_dim()), vc(T, cfg.kv_dim());
      model::FloatLinears lin(w);
      if (k_center) {  // the same block without the center: K on another grid, so the check below can fail
        ASSERT_EQ(p.k_center.size(), static_cast<size_t>(cfg.kv_dim()));
        BlockParams<float> uncentered = p;
        uncentered.k_center.clear();
        Mat y0;
        block_loss_grad<float>(cfg, block_quant_spec(o), uncentered, xin, xin, &y0, nullptr, nullptr);
        EXPECT_GT(test::rel_frobenius_diff(y0, y), 1e-2) << "layer " << l;
      }
      model::block_forward(cfg, l, w.attn_norm, w.ffn_norm, lin, x, 0, kc, vc, qm.model->rope(), qm.hooks.get());
      const double d = test::rel_frobenius_diff(y, x);
      // A16 KV16: only float rounding differs. Else a few activations (or keys, values) may land on the other
      // side of a rounding edge.
      EXPECT_LT(d, ab == 16 && kv == 0 ? 1e-5 : 2e-2) << "W" << wb << "A" << ab << " KV" << kv << " layer " << l;
    }
  }
}

TEST(LwcModel, TrainingLowersTheBlockLoss) {
  if (!std::filesystem::exists(test::assets_dir() / "models" / "stories260K")) GTEST_SKIP() << "no assets";
  Stories s = load(8, 64);
  QuantOptions o;
  o.method = Method::DuQuantLwc;
  o.block = 64;
  o.block_explicit = true;
  o.steps = 16;
  o.nsamples = 8;
  o.calib_ctx = 64;
  o.lwc_epochs = 20;
  o.progress = false;
  QuantizedModel qm = quantize_model(*s.src, s.windows, o);
  // Losses at the initial and at the trained clips, summed over the 5 blocks (measured 1.2534 -> 1.2233, every
  // block lower; with 4 windows × 5 epochs the change was within ±0.3% and its sign varied with the BLAS
  // thread count).
  EXPECT_GT(qm.lwc_loss_first, 0);
  EXPECT_LT(qm.lwc_loss_last, 0.99 * qm.lwc_loss_first);
  ASSERT_TRUE(qm.codes[0].wq.has_value());
  EXPECT_EQ(qm.codes[0].wq->params.size(), static_cast<size_t>(qm.cfg.q_dim()));
}

}  // namespace
}  // namespace duq::calib
