// Both engines give the same logits, bit for bit, at 1, 2 and 3 threads: prefill (the GEMMs split over
// weight panels, the transform + quantization over tokens, attention over (KV) heads, the row ops over
// rows), a chunk and decode steps (GEMV split over panels, the quantized KV cache). The model is large
// enough that every kernel takes its threaded path; GQA with 3 KV heads splits unevenly over 2 threads.
// The integer engine's one-thread logits are also checked against its reference path (quantized KV cache vs
// K/V fake-quantized into the float cache, float attention), so the comparison cannot pass on garbage.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "model/int_engine.h"
#include "model/synthetic.h"
#include "threads_scope.h"
#include "tiny_quant_model.h"

namespace duq::model {
namespace {

using test::kThreadCounts;
using test::ThreadsScope;

ModelConfig threads_config() {
  ModelConfig c;
  c.dim = 192, c.hidden_dim = 320, c.n_layers = 2, c.n_heads = 6, c.n_kv_heads = 3, c.vocab_size = 700;
  c.max_seq_len = 256, c.tied_embeddings = true;
  return c;
}

// logits of a 150-token prefill, a 7-token chunk, then 3 decode steps, concatenated by rows.
std::vector<Mat> run(const std::function<Mat(std::span<const int>, int, KVCache&)>& fwd, const ModelConfig& c) {
  std::vector<int> toks(160);
  for (size_t i = 0; i < toks.size(); ++i)
    toks[i] = static_cast<int>((i * 37 + 11) % static_cast<size_t>(c.vocab_size));
  const std::span<const int> all(toks);
  KVCache cache(c, 256);
  std::vector<Mat> out;
  out.push_back(fwd(all.subspan(0, 150), 0, cache));
  out.push_back(fwd(all.subspan(150, 7), 150, cache));
  for (int p = 157; p < 160; ++p) out.push_back(fwd(all.subspan(static_cast<size_t>(p), 1), p, cache));
  return out;
}

void expect_bits(const std::vector<Mat>& a, const std::vector<Mat>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size());
    EXPECT_EQ(std::memcmp(a[i].data(), b[i].data(), sizeof(float) * static_cast<size_t>(a[i].size())), 0)
        << what << ", call " << i;
  }
}

double max_rel(const std::vector<Mat>& a, const std::vector<Mat>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t j = 0; j < a[i].size(); ++j) {
      num = std::max(num, std::fabs(double(a[i].data()[j]) - b[i].data()[j]));
      den = std::max(den, std::fabs(double(b[i].data()[j])));
    }
  return num / den;
}

TEST(ThreadsEngine, IntegerLogitsSameBitsAtEveryThreadCount) {
  const ModelConfig c = threads_config();
  IntModel quant = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, 4)), nullptr, /*quantized_kv=*/true);
  IntModel ref = make_int_model(std::make_unique<QuantModelData>(tiny_model(c, 4)), nullptr, /*quantized_kv=*/false);
  auto fq = [&](std::span<const int> t, int p, KVCache& k) { return quant.forward(t, p, k); };
  std::vector<Mat> one;
  {
    ThreadsScope s(1);
    one = run(fq, c);
    EXPECT_LT(max_rel(one, run([&](std::span<const int> t, int p, KVCache& k) { return ref.forward(t, p, k); }, c)),
              1e-5);
  }
  for (int t : kThreadCounts) {
    ThreadsScope s(t);
    expect_bits(run(fq, c), one, "integer engine, threads " + std::to_string(t));
  }
}

TEST(ThreadsEngine, FloatLogitsSameBitsAtEveryThreadCount) {
  const ModelConfig c = threads_config();
  Model m(c, random_weights(c, 9));
  auto f = [&](std::span<const int> t, int p, KVCache& k) { return m.forward(t, p, k, nullptr); };
  std::vector<Mat> one;
  {
    ThreadsScope s(1);
    one = run(f, c);
  }
  for (int t : kThreadCounts) {
    ThreadsScope s(t);
    expect_bits(run(f, c), one, "float engine, threads " + std::to_string(t));
  }
}

}  // namespace
}  // namespace duq::model
