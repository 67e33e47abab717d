// The integer engine on tables in their stored type: a quantized file read as stored (Q8_0 embedding blocks, F16
// classifier halves) runs with the f32 tables released and gives logits bit-identical to the same file read
// widened, in prefill, decode and the batched step. Widened data whose Q8_0 table re-encodes exactly (what the
// reader widened) is narrowed the same way; a table that would not (the f32 original) stays f32.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "formats/q8_0.h"
#include "model/int_engine.h"
#include "test_support.h"
#include "tiny_quant_model.h"

namespace duq::model {
namespace {

bool same_bits(const Mat& a, const Mat& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

// prefill of 5 tokens, then 3 decode steps; the logits of every step stacked
Mat run(const IntModel& m) {
  KVCache cache(m.data->cfg, 16);
  const std::vector<int> prompt = {1, 7, 33, 49, 2};
  Mat out = m.forward(prompt, 0, cache, /*last_only=*/false);
  std::vector<float> all(out.flat().begin(), out.flat().end());
  for (int i = 0; i < 3; ++i) {
    const int tok = 10 + 9 * i;
    Mat o = m.forward(std::span<const int>(&tok, 1), 5 + i, cache, true);
    all.insert(all.end(), o.flat().begin(), o.flat().end());
  }
  Mat r(static_cast<int64_t>(all.size()) / m.data->cfg.vocab_size, m.data->cfg.vocab_size);
  std::copy(all.begin(), all.end(), r.data());
  return r;
}

TEST(StoredTables, IntegerEngineOnStoredTablesEqualsWidened) {
  ModelConfig c = tiny_config(2);
  c.tied_embeddings = false;
  QuantModelData d = tiny_model(c, 4);
  Rng rng(12);
  d.lm_head = test::random_normal_mat(c.vocab_size, c.dim, 0.1, rng);
  d.embed_type = TableType::Q8_0, d.lm_head_type = TableType::F16;
  const auto path = (test::temp_dir("stored_tables") / "m.gguf").string();
  write_quant_model(path, d);

  IntModel wide = make_int_model(std::make_unique<QuantModelData>(read_quant_model(path)), nullptr, true);
  IntModel narrow =
      make_int_model(std::make_unique<QuantModelData>(read_quant_model(path, TableLoad::AsStored)), nullptr, true);
  EXPECT_EQ(narrow.model->weights().embed.size(), 0);    // Q8_0 blocks only
  EXPECT_EQ(narrow.model->weights().lm_head.size(), 0);  // halves only
  // The widened read's Q8_0 values re-encode exactly, so that engine narrows its table too.
  EXPECT_EQ(wide.model->weights().embed.size(), 0);
  EXPECT_TRUE(same_bits(run(wide), run(narrow)));
  // Against an engine that keeps the f32 widening (F32 storage type recorded; the same values):
  QuantModelData keep = read_quant_model(path);
  keep.embed_type = TableType::F32;
  IntModel f32 = make_int_model(std::make_unique<QuantModelData>(std::move(keep)), nullptr, true);
  EXPECT_GT(f32.model->weights().embed.size(), 0);
  EXPECT_TRUE(same_bits(run(f32), run(narrow)));
  // batched step (serve): two sequences in one forward_batch
  KVCache a1(c, 16), b1(c, 16), a2(c, 16), b2(c, 16);
  const std::vector<int> s = {3, 4, 5}, t = {40, 41};
  const SeqChunk x[] = {{s, 0, &a1, false}, {t, 0, &b1, false}}, y[] = {{s, 0, &a2, false}, {t, 0, &b2, false}};
  EXPECT_TRUE(same_bits(f32.forward_batch(x), narrow.forward_batch(y)));

  // In-memory data holding the f32 original (not Q8_0 values): re-encoding would change it, so it stays f32.
  QuantModelData orig = tiny_model(c, 4);
  orig.lm_head = d.lm_head;
  orig.embed_type = TableType::Q8_0;
  IntModel o = make_int_model(std::make_unique<QuantModelData>(std::move(orig)), nullptr, true);
  EXPECT_EQ(o.model->weights().embed.size(), int64_t{c.vocab_size} * c.dim);
}

}  // namespace
}  // namespace duq::model
