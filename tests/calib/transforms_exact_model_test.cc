// With quantization off (W16A16), every method's transforms are exact: the logits equal the float
// model's (≤ 1e-4 relative) — on stories260K (GQA, hidden 172 = two 64-blocks + a 44-wide tail) and on a
// synthetic MHA model. With quantization on, the outputs do change (the check is not vacuous).
#include <gtest/gtest.h>

#include <cmath>

#include "calib/calib_data.h"
#include "calib/pipeline.h"
#include "core/rng.h"
#include "model/synthetic.h"
#include "test_support.h"

namespace duq::calib {
namespace {

namespace fs = std::filesystem;

class MemorySource : public model::WeightSource {
 public:
  MemorySource(model::ModelConfig c, model::ModelWeights w) : c_(c), w_(std::move(w)) {}
  const model::ModelConfig& config() const override { return c_; }
  std::string description() const override { return "in-memory model"; }
  Mat embedding() const override { return w_.embed; }
  model::LayerWeights layer(int l) const override { return w_.layers[static_cast<size_t>(l)]; }
  Vec final_norm() const override { return w_.final_norm; }
  Mat lm_head() const override { return w_.lm_head; }

 private:
  model::ModelConfig c_;
  model::ModelWeights w_;
};

double rel_diff(const Mat& a, const Mat& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a.data()[i]) - b.data()[i]));
    den = std::max(den, std::fabs(double(b.data()[i])));
  }
  return num / den;
}

std::vector<std::vector<int>> random_windows(int n, int len, int vocab, uint64_t seed) {
  Rng r(seed);
  std::vector<std::vector<int>> w(static_cast<size_t>(n), std::vector<int>(static_cast<size_t>(len)));
  for (auto& win : w)
    for (auto& t : win) t = static_cast<int>(r.below(static_cast<uint64_t>(vocab)));
  return w;
}

void check_all_methods_exact(const model::WeightSource& src, int block, const std::vector<int>& probe,
                             const std::vector<std::vector<int>>& windows) {
  QuantizedModel fp = float_model(src);
  model::KVCache c0(src.config(), static_cast<int>(probe.size()));
  Mat ref = fp.forward(probe, 0, c0);
  for (Method m : {Method::Rtn, Method::SmoothQuant, Method::Rotation, Method::DuQuant}) {
    QuantOptions o;
    o.method = m;
    o.wbits = o.abits = kNoQuant;
    o.block = block;
    o.steps = 32;
    o.qk_hadamard = 1;  // the Q/K Hadamard must cancel too
    o.progress = false;
    QuantizedModel q = quantize_model(src, windows, o);
    model::KVCache c(src.config(), static_cast<int>(probe.size()));
    Mat out = q.forward(probe, 0, c);
    EXPECT_LE(rel_diff(out, ref), 1e-4) << method_name(m);
    // The transform really changed the weights (except RTN, which has none): the down projection's for the
    // rotations, W_q's for SmoothQuant (which, as its own code, smooths only the inputs after a norm).
    if (m != Method::Rtn) {
      const auto& qw = q.model->weights().layers[0];
      const auto& fw = fp.model->weights().layers[0];
      EXPECT_GT(m == Method::SmoothQuant ? rel_diff(qw.wq, fw.wq) : rel_diff(qw.w_down, fw.w_down), 1e-3)
          << method_name(m);
    }
    // ... and quantizing (W4A4) changes the logits.
    o.wbits = o.abits = 4;
    QuantizedModel q4 = quantize_model(src, windows, o);
    model::KVCache c4(src.config(), static_cast<int>(probe.size()));
    EXPECT_GT(rel_diff(q4.forward(probe, 0, c4), ref), 1e-3) << method_name(m);
  }
}

TEST(TransformsExact, Stories260KAllMethods) {
  fs::path p = test::assets_dir() / "models/stories260K/stories260K.bin";
  if (!fs::exists(p)) GTEST_SKIP();
  auto src = model::open_weights(p.string());
  std::vector<int> probe = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 400, 428, 395, 392, 412, 444};
  check_all_methods_exact(*src, 64, probe, random_windows(4, 64, 512, 3));
}

TEST(TransformsExact, SyntheticMhaModelAllMethods) {
  model::ModelConfig c;
  c.dim = 96, c.hidden_dim = 200, c.n_layers = 2, c.n_heads = 6, c.n_kv_heads = 6, c.vocab_size = 300;
  c.max_seq_len = 64, c.tied_embeddings = false;
  MemorySource src(c, model::random_weights(c, 11));
  std::vector<int> probe = {1, 5, 77, 120, 9, 250, 33, 41, 42, 43};
  check_all_methods_exact(src, 32, probe, random_windows(3, 32, 300, 5));
}

TEST(CalibData, ShortTextIsAClearError) {
  std::vector<int> toks(100, 5);
  try {
    sample_windows(toks, 4, 50, 1, "calib.txt");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("calib.txt"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("4 × 50"), std::string::npos) << e.what();
  }
  auto w = sample_windows(toks, 2, 50, 1, "calib.txt");
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].size(), 50u);
}

// LLaMA-3 / Mistral details through the calibration pipeline: head_dim ≠ dim / heads (q, k, v and the
// o-projection input 4·32 = 128 wide on a 64-wide residual), GQA, LLaMA-3.1 RoPE scaling and a sliding window
// shorter than the calibration windows and the probe.
TEST(TransformsExact, SyntheticHeadDimRopeScalingSlidingWindowAllMethods) {
  model::ModelConfig c;
  c.dim = 64, c.hidden_dim = 160, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 300;
  c.head_size = 32, c.max_seq_len = 64, c.tied_embeddings = false, c.sliding_window = 6;
  c.rope_scaling.type = model::RopeScaling::Type::Llama3;
  c.rope_scaling.factor = 8, c.rope_scaling.low_freq_factor = 1, c.rope_scaling.high_freq_factor = 4;
  c.rope_scaling.original_max_pos = 16;
  c.validate("test config");
  MemorySource src(c, model::random_weights(c, 13));
  std::vector<int> probe = {1, 5, 77, 120, 9, 250, 33, 41, 42, 43, 7, 8};
  check_all_methods_exact(src, 32, probe, random_windows(3, 16, 300, 5));
}

}  // namespace
}  // namespace duq::calib
