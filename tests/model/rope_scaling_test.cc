// RoPE variants and Mistral's sliding window: LLaMA-3.1's frequency rescaling against llama.cpp's converter
// formula (per-frequency divisors, computed here independently of the code's wavelength bands), linear
// scaling, the unscaled table unchanged, and windowed attention against the same model run on the window alone.
#include <gtest/gtest.h>

#include <cmath>

#include "model/forward.h"
#include "model/rope_freq.h"
#include "model/synthetic.h"
#include "test_support.h"

namespace duq::model {
namespace {

ModelConfig llama31_config() {
  ModelConfig c;
  c.dim = 4096;
  c.n_heads = 32;  // head_dim 128
  c.rope_theta = 500000.f;
  c.rope_scaling.type = RopeScaling::Type::Llama3;
  c.rope_scaling.factor = 8.f;
  c.rope_scaling.low_freq_factor = 1.f;
  c.rope_scaling.high_freq_factor = 4.f;
  c.rope_scaling.original_max_pos = 8192;
  return c;
}

TEST(RopeScaling, Llama3MatchesConverterFormula) {
  const ModelConfig c = llama31_config();
  const auto got = rope_inv_freq(c);
  ASSERT_EQ(got.size(), 64u);
  // llama.cpp's convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors): a divisor per frequency,
  //   wavelen < 8192/4 → 1;  wavelen > 8192/1 → 8;  else 1 / ((1 − s)/8 + s), s = (8192/wavelen − 1) / (4 − 1).
  int kept = 0, slowed = 0, blended = 0;
  for (int i = 0; i < 64; ++i) {
    const double base = 1.0 / std::pow(500000.0, (2.0 * i) / 128.0);
    const double wavelen = 2 * M_PI / base;
    double divisor;
    if (wavelen < 8192.0 / 4.0) {
      divisor = 1;
      ++kept;
    } else if (wavelen > 8192.0 / 1.0) {
      divisor = 8;
      ++slowed;
    } else {
      const double s = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      divisor = 1 / ((1 - s) / 8 + s);
      ++blended;
    }
    EXPECT_NEAR(got[static_cast<size_t>(i)], base / divisor, 1e-12 * base) << "frequency " << i;
  }
  // All three regimes occur for LLaMA-3.1's parameters (so each branch was checked).
  EXPECT_GT(kept, 0);
  EXPECT_GT(slowed, 0);
  EXPECT_GT(blended, 0);
  // The first frequency (wavelength 2π) is untouched, the last slowed 8×.
  EXPECT_EQ(got[0], 1.0);
  EXPECT_NEAR(got[63], std::pow(500000.0, -126.0 / 128.0) / 8, 1e-18);
}

TEST(RopeScaling, LinearAndPerFrequencyFactors) {
  ModelConfig c;
  c.dim = 64;
  c.n_heads = 4;  // head_dim 16
  c.rope_theta = 10000.f;
  const auto plain = rope_inv_freq(c);
  c.rope_scaling.type = RopeScaling::Type::Linear;
  c.rope_scaling.factor = 4.f;
  const auto lin = rope_inv_freq(c);
  c.rope_scaling.type = RopeScaling::Type::FreqFactors;
  c.rope_scaling.freq_factors = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto ff = rope_inv_freq(c);
  for (int i = 0; i < 8; ++i) {
    EXPECT_DOUBLE_EQ(plain[i], std::pow(10000.0, -2.0 * i / 16));
    EXPECT_DOUBLE_EQ(lin[i], plain[i] / 4);
    EXPECT_DOUBLE_EQ(ff[i], plain[i] / (i + 1));
  }
  // A linear factor f at position p is the plain rotation at p / f.
  const auto t_lin = kernels::RopeTable(64, lin), t_plain = kernels::RopeTable(64, plain);
  EXPECT_NEAR(t_lin.cos(40, 3), t_plain.cos(10, 3), 1e-6);
  EXPECT_NEAR(t_lin.sin(40, 3), t_plain.sin(10, 3), 1e-6);
}

TEST(RopeScaling, UnscaledTableIsUnchanged) {
  ModelConfig c;
  c.dim = 64;
  c.n_heads = 4;
  c.rope_theta = 10000.f;
  const kernels::RopeTable a = rope_table(c, 32), b(32, 16, 10000.f);
  for (int p = 0; p < 32; ++p)
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(a.cos(p, i), b.cos(p, i));
      ASSERT_EQ(a.sin(p, i), b.sin(p, i));
    }
}

TEST(SlidingWindow, SoftmaxSeesOnlyTheWindow) {
  ModelConfig c;
  c.sliding_window = 3;
  Mat s(2, 6);
  for (int t = 0; t < 2; ++t)
    for (int j = 0; j < 6; ++j) s(t, j) = static_cast<float>(j);
  // Rows at positions 4 and 5: keys 2..4 and 3..5.
  attention_softmax(c, s.view(), 4, 1, 1.f);
  const double z = std::exp(0.0) + std::exp(1.0) + std::exp(2.0);  // the window's three scores, shifted
  for (int t = 0; t < 2; ++t)
    for (int j = 0; j < 6; ++j) {
      const int lo = 4 + t - 2, hi = 4 + t;
      const double want = j < lo || j > hi ? 0.0 : std::exp(j - lo) / z;
      EXPECT_NEAR(s(t, j), want, 1e-6) << t << " " << j;
    }
}

TEST(SlidingWindow, OneLayerModelEqualsTheWindowAlone) {
  // RoPE scores depend only on position differences, so with one block the last token's logits under a window
  // of W equal those of the model run on the last W tokens alone (positions 0 … W−1, full attention).
  ModelConfig c;
  c.dim = 32;
  c.hidden_dim = 64;
  c.n_layers = 1;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 50;
  c.max_seq_len = 32;
  const ModelWeights w = random_weights(c, 11);
  ModelConfig cw = c;
  cw.sliding_window = 5;
  const Model full(c, w), windowed(cw, w);
  const std::vector<int> toks = {3, 17, 8, 42, 5, 9, 33, 1, 27, 14, 6, 30};
  KVCache k1(cw, 32), k2(c, 32), k3(c, 32);
  const Mat a = windowed.forward(toks, 0, k1, nullptr, true);
  const Mat b = full.forward(std::span<const int>(toks).last(5), 0, k2, nullptr, true);
  const Mat unwindowed = full.forward(toks, 0, k3, nullptr, true);
  double diff_window = 0, diff_full = 0;
  for (int v = 0; v < c.vocab_size; ++v) {
    diff_window = std::max(diff_window, std::fabs(static_cast<double>(a(0, v)) - b(0, v)));
    diff_full = std::max(diff_full, std::fabs(static_cast<double>(a(0, v)) - unwindowed(0, v)));
  }
  EXPECT_LT(diff_window, 1e-4);
  EXPECT_GT(diff_full, 1e-2);  // the window does change the answer
  // Decode steps (one token at a time) agree with the batched prefill.
  KVCache k4(cw, 32);
  Mat step;
  for (int p = 0; p < static_cast<int>(toks.size()); ++p)
    step = windowed.forward(std::span<const int>(&toks[p], 1), p, k4, nullptr, true);
  for (int v = 0; v < c.vocab_size; ++v) EXPECT_NEAR(step(0, v), a(0, v), 1e-4);
}

}  // namespace
}  // namespace duq::model
