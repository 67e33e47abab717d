// Model::forward_batch on stories260K: a sequence's logits are bit-identical alone and inside a batch of 3
// sequences of different lengths that join at different steps (float engine and the integer W4A4 engine on
// a file quantized here), and the batched forward is the model's forward pass (float engine vs
// Model::forward, an independent code path, within float rounding), also per token (SeqChunk::all_logits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "calib/export.h"
#include "model/forward.h"
#include "model/int_engine.h"
#include "model/quant_model.h"
#include "model/sampler.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;
using BatchFn = std::function<Mat(std::span<const SeqChunk>)>;

struct SeqSpec {
  std::vector<int> prompt;
  int start = 0;  // step at which the sequence joins
  int gen = 0;    // tokens to generate (greedy)
};

// Every sampled step's logits row per sequence: prompts read in chunks of `chunk` tokens, then greedy decode,
// all active sequences in one forward_batch call per step.
std::vector<std::vector<std::vector<float>>> run(const BatchFn& fwd, const ModelConfig& c,
                                                 const std::vector<SeqSpec>& specs, int chunk) {
  struct St {
    std::unique_ptr<KVCache> cache;
    std::vector<int> tokens;
    int n_past = 0, produced = 0;
  };
  std::vector<St> st(specs.size());
  std::vector<std::vector<std::vector<float>>> out(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    st[i].cache = std::make_unique<KVCache>(c, 256);
    st[i].tokens = specs[i].prompt;
  }
  for (int step = 0;; ++step) {
    std::vector<SeqChunk> chunks;
    std::vector<size_t> who;
    bool pending = false;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (st[i].produced >= specs[i].gen) continue;
      pending = true;
      if (step < specs[i].start) continue;
      const int n = static_cast<int>(st[i].tokens.size());
      const int end = st[i].n_past < static_cast<int>(specs[i].prompt.size())
                          ? std::min<int>(specs[i].prompt.size(), st[i].n_past + chunk)
                          : n;
      chunks.push_back(
          {std::span<const int>(st[i].tokens.data() + st[i].n_past, static_cast<size_t>(end - st[i].n_past)),
           st[i].n_past, st[i].cache.get()});
      who.push_back(i);
    }
    if (!pending) break;
    if (chunks.empty()) continue;
    Mat logits = fwd(chunks);
    for (size_t j = 0; j < who.size(); ++j) {
      St& s = st[who[j]];
      s.n_past += static_cast<int>(chunks[j].tokens.size());
      if (s.n_past < static_cast<int>(s.tokens.size())) continue;
      std::span<const float> row(logits.row(static_cast<int64_t>(j)), static_cast<size_t>(logits.cols()));
      out[who[j]].emplace_back(row.begin(), row.end());
      s.tokens.push_back(argmax(row));
      ++s.produced;
    }
  }
  return out;
}

std::vector<int> prompt_of(int n, int salt, int vocab) {
  std::vector<int> p{1};
  for (int i = 1; i < n; ++i) p.push_back(3 + (i * 37 + salt * 101) % (vocab - 3));
  return p;
}

// Sequence 0 alone and among two others (a long prompt that needs 3 chunks, a short one joining later).
void expect_batch_independent(const BatchFn& fwd, const ModelConfig& c, const std::string& what) {
  const std::vector<SeqSpec> batch = {{prompt_of(40, 1, c.vocab_size), 0, 12},
                                      {prompt_of(150, 2, c.vocab_size), 0, 6},
                                      {prompt_of(7, 3, c.vocab_size), 3, 15}};
  const int chunk = 64;
  auto together = run(fwd, c, batch, chunk);
  for (size_t i = 0; i < batch.size(); ++i) {
    SeqSpec alone = batch[i];
    alone.start = 0;
    auto solo = run(fwd, c, {alone}, chunk);
    ASSERT_EQ(solo[0].size(), together[i].size()) << what;
    for (size_t s = 0; s < solo[0].size(); ++s)
      ASSERT_EQ(std::memcmp(solo[0][s].data(), together[i][s].data(), sizeof(float) * solo[0][s].size()), 0)
          << what << ": sequence " << i << " step " << s << " differs alone and batched";
  }
}

struct Assets {
  fs::path a = test::assets_dir();
  std::string model = (a / "models/stories260K/stories260K.bin").string();
  std::string tok = (a / "models/stories260K/tok512.bin").string();
};

TEST(BatchForward, FloatEngineSameBitsAloneAndBatched) {
  Assets as;
  if (!fs::exists(as.model)) GTEST_SKIP() << "assets not found";
  Model m = Model::load(as.model);
  expect_batch_independent([&](std::span<const SeqChunk> ch) { return m.forward_batch(ch); }, m.config(), "float");
}

TEST(BatchForward, FloatEngineMatchesModelForward) {
  Assets as;
  if (!fs::exists(as.model)) GTEST_SKIP() << "assets not found";
  Model m = Model::load(as.model);
  const auto toks = prompt_of(90, 5, m.config().vocab_size);
  KVCache a(m.config(), 256), b(m.config(), 256);
  // forward: 90 tokens at once; forward_batch: 64 + 26
  Mat want = m.forward(toks, 0, a, nullptr, /*last_only=*/true);
  m.forward_batch(std::vector<SeqChunk>{{std::span<const int>(toks).subspan(0, 64), 0, &b}});
  Mat got = m.forward_batch(std::vector<SeqChunk>{{std::span<const int>(toks).subspan(64), 64, &b}});
  ASSERT_EQ(got.cols(), want.cols());
  double worst = 0, scale = 0;
  for (int64_t j = 0; j < got.cols(); ++j) {
    worst = std::max(worst, std::fabs(double(got(0, j)) - want(0, j)));
    scale = std::max(scale, std::fabs(double(want(0, j))));
  }
  EXPECT_LT(worst, 1e-4 * scale);
  EXPECT_GT(scale, 1.0);
}

// SeqChunk::all_logits: one row per token, in order, beside a last-only chunk of another sequence; each row is
// Model::forward's row (within float rounding) and the last equals the last-only logits bit for bit.
TEST(BatchForward, AllLogitsRowsAreEveryTokensLogits) {
  Assets as;
  if (!fs::exists(as.model)) GTEST_SKIP() << "assets not found";
  Model m = Model::load(as.model);
  const auto toks = prompt_of(30, 6, m.config().vocab_size), other = prompt_of(12, 7, m.config().vocab_size);
  KVCache a(m.config(), 64), b(m.config(), 64), c(m.config(), 64), d(m.config(), 64);
  Mat want = m.forward(toks, 0, a);
  Mat got = m.forward_batch(std::vector<SeqChunk>{{other, 0, &b}, {toks, 0, &c, /*all_logits=*/true}});
  Mat last = m.forward_batch(std::vector<SeqChunk>{{toks, 0, &d}});
  ASSERT_EQ(got.rows(), 1 + 30);
  double worst = 0, scale = 0;
  for (int64_t t = 0; t < 30; ++t)
    for (int64_t j = 0; j < got.cols(); ++j) {
      worst = std::max(worst, std::fabs(double(got(1 + t, j)) - want(t, j)));
      scale = std::max(scale, std::fabs(double(want(t, j))));
    }
  EXPECT_LT(worst, 1e-4 * scale);
  EXPECT_GT(scale, 1.0);
  EXPECT_EQ(std::memcmp(got.row(30), last.row(0), sizeof(float) * static_cast<size_t>(got.cols())), 0);
}

TEST(BatchForward, IntegerEngineSameBitsAloneAndBatched) {
  Assets as;
  if (!fs::exists(as.model)) GTEST_SKIP() << "assets not found";
  const fs::path dir = test::temp_dir("batch_int");
  const fs::path q = dir / "s-w4a4.gguf";
  auto r = test::run_command(test::cli_path().string() + " quantize --model " + as.model + " --tokenizer " + as.tok +
                             " --method duquant --wbits 4 --abits 4 --calib " +
                             (as.a / "text/tinystories/calib.txt").string() + " --nsamples 4 --calib-ctx 64 --out " +
                             q.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (bool exact : {false, true}) {
    auto data = std::make_unique<QuantModelData>(read_quant_model(q.string()));
    IntModel im = make_int_model(std::move(data), model::fp32_transform_factory(), /*quantized_kv=*/true, exact);
    expect_batch_independent([&](std::span<const SeqChunk> ch) { return im.forward_batch(ch); }, im.data->cfg,
                             exact ? "integer, exact rotations" : "integer");
  }
}

}  // namespace
}  // namespace duq::model
