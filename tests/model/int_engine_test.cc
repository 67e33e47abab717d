// The integer engine's quantized KV cache: stored rows dequantize to exactly the fake quantizer's values, and
// the engine with the quantized cache and its attention gives the logits of the reference path (K/V fake-
// quantized into the float cache, float attention) on a tiny synthetic W4A4 model, in prefill and decode,
// MHA and GQA.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/rng.h"
#include "kernels/int_gemm.h"
#include "model/int_engine.h"
#include "model/kv_quant_cache.h"
#include "test_support.h"
#include "tiny_quant_model.h"

namespace duq::model {
namespace {

double max_rel_diff(const Mat& a, const Mat& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a.data()[i]) - b.data()[i]));
    den = std::max(den, std::fabs(double(b.data()[i])));
  }
  return num / den;
}

TEST(QuantKVCache, StoredRowsDequantizeToTheFakeQuantizersValues) {
  ModelConfig c = tiny_config(2);
  Rng rng(3);
  for (int bits : {2, 3, 4, 6, 8}) {
    for (float clip : {1.f, 0.9f}) {
      QuantKVCache kv(c, 16, bits);
      Mat x = test::random_normal_mat(5, c.kv_dim(), 2.0, rng);
      for (int64_t j = 0; j < x.cols(); ++j) x(1, j) += 3.f;  // an offset row (zero point far from the middle)
      kv.store(1, QuantKVCache::V, x, 7, clip);
      Mat ref = x;
      fake_quant_rows(ref, c.head_dim(), bits, clip);
      for (int h = 0; h < c.n_kv_heads; ++h) {
        Mat got(12, c.head_dim());
        kv.load_head(1, QuantKVCache::V, h, 12, got);
        for (int t = 0; t < 5; ++t)
          for (int j = 0; j < c.head_dim(); ++j)
            ASSERT_EQ(got(7 + t, j), ref(t, h * c.head_dim() + j)) << "bits " << bits << " head " << h;
      }
    }
  }
  // 4-bit codes take half a byte each.
  EXPECT_LT(QuantKVCache(c, 16, 4).bytes(), QuantKVCache(c, 16, 8).bytes());
}

void expect_engines_agree(int kv_heads, int kv_bits, const std::function<void(ModelConfig&)>& edit = nullptr) {
  ModelConfig c = tiny_config(kv_heads);
  if (edit) edit(c);
  IntModel quant = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, kv_bits)), nullptr, true);
  IntModel ref = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, kv_bits)), nullptr, false);
  Rng rng(9);
  std::vector<int> toks(24);
  for (int& t : toks) t = static_cast<int>(rng.below(static_cast<uint64_t>(c.vocab_size)));
  KVCache kq(c, 32), kr(c, 32);
  // Prefill 16 tokens, then 2 more as a chunk, then 6 single-token decode steps.
  const std::span<const int> all(toks);
  Mat a = quant.forward(all.subspan(0, 16), 0, kq), b = ref.forward(all.subspan(0, 16), 0, kr);
  EXPECT_LT(max_rel_diff(a, b), 1e-5) << "prefill";
  a = quant.forward(all.subspan(16, 2), 16, kq), b = ref.forward(all.subspan(16, 2), 16, kr);
  EXPECT_LT(max_rel_diff(a, b), 1e-5) << "chunk";
  for (int p = 18; p < 24; ++p) {
    a = quant.forward(all.subspan(static_cast<size_t>(p), 1), p, kq);
    b = ref.forward(all.subspan(static_cast<size_t>(p), 1), p, kr);
    EXPECT_LT(max_rel_diff(a, b), 1e-5) << "decode at " << p;
  }
  // The reference keeps float K/V; the quantized engine keeps none.
  EXPECT_TRUE(kq.k.empty() == (kv_bits < 16));
  EXPECT_FALSE(kr.k.empty());
}

// The check above is not vacuous: quantizing K/V at 4 bits does change the logits.
TEST(IntEngine, KVQuantizationChangesTheLogits) {
  const ModelConfig c = tiny_config(2);
  IntModel q4 = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, 4)), nullptr, true);
  IntModel q16 = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, 16)), nullptr, true);
  std::vector<int> toks = {1, 5, 9, 13, 17, 21, 25, 29};
  KVCache k4(c, 8), k16(c, 8);
  EXPECT_GT(max_rel_diff(q4.forward(toks, 0, k4), q16.forward(toks, 0, k16)), 1e-3);
}

TEST(IntEngine, QuantizedKVCacheMatchesFakeQuantPathMHA) { expect_engines_agree(4, 4); }
TEST(IntEngine, QuantizedKVCacheMatchesFakeQuantPathGQA) { expect_engines_agree(2, 4); }
TEST(IntEngine, QuantizedKVCacheMatchesFakeQuantPath8Bit) { expect_engines_agree(2, 8); }
TEST(IntEngine, KV16KeepsTheFloatCache) { expect_engines_agree(2, 16); }
// head_dim ≠ dim / heads (q/k/v 4·32 = 128 wide on a 64-wide residual) and a sliding window (5) shorter than
// the prefill and the decode positions: the quantized cache's attention masks as the float attention does.
TEST(IntEngine, HeadDimOverrideAndSlidingWindow) {
  expect_engines_agree(2, 4, [](ModelConfig& c) { c.head_size = 32; });
  expect_engines_agree(2, 4, [](ModelConfig& c) { c.sliding_window = 5; });
}

// Version-3 keys survive write → read: RoPE scaling, head_dim, sliding window, the extendable context and a GGUF
// vocabulary; a file without them stays version 2.
TEST(QuantFile, Version3KeysRoundTrip) {
  ModelConfig c = tiny_config(2);
  QuantModelData d = tiny_model(c, 4);
  d.embed_type = d.lm_head_type = TableType::F32;
  d.tokenizer_kind = "llama2c";
  d.tokenizer_bytes = "bytes";
  EXPECT_EQ(quant_format_version_for(d), 2u);
  d.cfg.rope_scaling.type = RopeScaling::Type::Llama3;
  d.cfg.rope_scaling.factor = 8.f;
  d.cfg.rope_scaling.low_freq_factor = 1.f;
  d.cfg.rope_scaling.high_freq_factor = 4.f;
  d.cfg.rope_scaling.original_max_pos = 8192;
  d.cfg.sliding_window = 7;
  d.cfg.context_extendable = true;
  d.cfg.extra_eos_ids = {3, 4};
  d.tokenizer_kind = "gguf";
  d.tokenizer_kv = {{"tokenizer.ggml.model", formats::GgufValue("llama")},
                    {"tokenizer.ggml.tokens", formats::GgufValue(std::vector<std::string>{"a", "b"})}};
  EXPECT_EQ(quant_format_version_for(d), 3u);
  const std::string path = (duq::test::temp_dir("quant_v3") / "m.gguf").string();
  write_quant_model(path, d);
  const QuantModelData r = read_quant_model(path);
  EXPECT_EQ(r.cfg.rope_scaling, d.cfg.rope_scaling);
  EXPECT_EQ(r.cfg.sliding_window, 7);
  EXPECT_TRUE(r.cfg.context_extendable);
  EXPECT_EQ(r.cfg.extra_eos_ids, (std::vector<int>{3, 4}));
  EXPECT_EQ(r.tokenizer_kind, "gguf");
  EXPECT_EQ(r.tokenizer_kv, d.tokenizer_kv);
  // Per-frequency factors (a GGUF's rope_freqs.weight) and head_dim.
  d.cfg.rope_scaling = {};
  d.cfg.rope_scaling.type = RopeScaling::Type::FreqFactors;
  d.cfg.rope_scaling.freq_factors = {1, 1, 2, 2, 4, 4, 8, 8};  // head_dim 16 → 8 factors
  write_quant_model(path, d);
  EXPECT_EQ(read_quant_model(path).cfg.rope_scaling.freq_factors, d.cfg.rope_scaling.freq_factors);
}

}  // namespace
}  // namespace duq::model
