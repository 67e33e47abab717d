// stories260K against the independent float64 reference in assets/golden.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "formats/llama2c_tokenizer_file.h"
#include "model/bpe_tokenizer.h"
#include "model/forward.h"
#include "model/sampler.h"
#include "naive_encoder.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

struct Assets {
  fs::path dir = test::assets_dir();
  fs::path model() const { return dir / "models/stories260K/stories260K.bin"; }
  fs::path tok() const { return dir / "models/stories260K/tok512.bin"; }
  fs::path golden(const char* f) const { return dir / "golden" / f; }
};

#define SKIP_WITHOUT_ASSETS(a) \
  if (!fs::exists((a).model())) GTEST_SKIP() << "assets not found at " << (a).dir

nlohmann::json load_json(const fs::path& p) { return nlohmann::json::parse(test::read_text(p)); }

TEST(Stories260K, PromptLogitsMatchReference) {
  Assets a;
  SKIP_WITHOUT_ASSETS(a);
  auto g = load_json(a.golden("stories260K-prompt.json"));
  std::vector<int> tokens = g["tokens"].get<std::vector<int>>();
  std::string raw = test::read_text(a.golden("stories260K-prompt-logits.f32"));
  ASSERT_EQ(raw.size(), tokens.size() * 512 * sizeof(float));
  const float* ref = reinterpret_cast<const float*>(raw.data());

  Model m = Model::load(a.model());
  ASSERT_EQ(m.config().n_kv_heads, 4);  // exercises grouped-query attention
  KVCache cache(m.config(), m.config().max_seq_len);
  Mat logits = m.forward(tokens, 0, cache);
  double max_err = 0, nll = 0;
  for (int t = 0; t < logits.rows(); ++t)
    for (int v = 0; v < 512; ++v) max_err = std::max(max_err, std::fabs(double(logits(t, v)) - ref[t * 512 + v]));
  EXPECT_LE(max_err, 1e-4);
  // Mean next-token NLL against the reference's own number.
  for (int t = 0; t + 1 < logits.rows(); ++t) {
    double mx = -1e30, s = 0;
    for (int v = 0; v < 512; ++v) mx = std::max(mx, double(logits(t, v)));
    for (int v = 0; v < 512; ++v) s += std::exp(double(logits(t, v)) - mx);
    nll += std::log(s) + mx - logits(t, tokens[t + 1]);
  }
  EXPECT_NEAR(nll / (logits.rows() - 1), g["mean_nll_next_token"].get<double>(), 1e-5);
}

TEST(Stories260K, PromptTextTokenizesToReferenceIds) {
  Assets a;
  SKIP_WITHOUT_ASSETS(a);
  auto g = load_json(a.golden("stories260K-prompt.json"));
  auto tok = BpeTokenizer::load(a.tok());
  EXPECT_EQ(tok->encode(g["prompt"].get<std::string>(), true, false), g["tokens"].get<std::vector<int>>());
}

TEST(Stories260K, GreedyFromBosMatchesReference) {
  Assets a;
  SKIP_WITHOUT_ASSETS(a);
  auto g = load_json(a.golden("stories260K-greedy-bos.json"));
  std::vector<int> want = g["tokens"].get<std::vector<int>>();
  Model m = Model::load(a.model());
  KVCache cache(m.config(), m.config().max_seq_len);
  std::vector<int> got = {1};
  for (int pos = 0; pos + 1 < static_cast<int>(want.size()); ++pos) {
    Mat l = m.forward(std::span<const int>(&got.back(), 1), pos, cache, nullptr, true);
    got.push_back(argmax(l.flat()));
  }
  EXPECT_EQ(got, want);
  auto tok = BpeTokenizer::load(a.tok());
  std::string text;
  for (size_t i = 1; i < got.size(); ++i) text += tok->decode(got[i - 1], got[i]);
  std::string ref = g["text"].get<std::string>();
  if (!ref.empty() && ref[0] == ' ') ref.erase(0, 1);
  EXPECT_EQ(text, ref);
}

TEST(Stories260K, DecodeWithCacheEqualsBatchedPrefill) {
  Assets a;
  SKIP_WITHOUT_ASSETS(a);
  Model m = Model::load(a.model());
  std::vector<int> toks = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298};
  KVCache c1(m.config(), 64), c2(m.config(), 64);
  Mat full = m.forward(toks, 0, c1);
  // First 4 tokens as a batch, then one at a time: every row must agree.
  Mat head = m.forward(std::span<const int>(toks.data(), 4), 0, c2);
  for (int t = 0; t < 4; ++t)
    for (int v = 0; v < 512; ++v) ASSERT_NEAR(head(t, v), full(t, v), 1e-4);
  for (int t = 4; t < static_cast<int>(toks.size()); ++t) {
    Mat one = m.forward(std::span<const int>(&toks[t], 1), t, c2);
    for (int v = 0; v < 512; ++v) ASSERT_NEAR(one(0, v), full(t, v), 1e-4) << "position " << t;
  }
}

TEST(Stories260K, HeapEncoderMatchesRunCLoopOnRealText) {
  Assets a;
  SKIP_WITHOUT_ASSETS(a);
  auto v = formats::read_llama2c_tokenizer(a.tok());
  BpeTokenizer tok(v.pieces, v.scores, "tok512");
  std::string text = test::read_text(a.dir / "text/tinystories/calib.txt");
  // Several slices, including ones that start and end mid-word and mid-codepoint.
  for (size_t start : {size_t(0), size_t(1234), size_t(77777), size_t(390001)}) {
    std::string s = text.substr(start, 3000);
    EXPECT_EQ(tok.encode(s, true, false), test::naive_llama2c_encode(v.pieces, v.scores, s, true, false))
        << "slice at " << start;
  }
}

TEST(Aidreams260K, LoadsWithItsOwnTokenizerAndGenerates) {
  // A second real model (MHA, 4 layers, head size 16, its own tokenizer): nothing is tied to stories260K.
  fs::path dir = test::assets_dir() / "models/aidreams260K";
  if (!fs::exists(dir / "aidreams260K.bin"))
    GTEST_SKIP() << "aidreams260K is not bundled (no licence, assets/NOTICE.md): set DUQUANT_ASSETS to a folder with "
                    "models/aidreams260K/";
  Model m = Model::load(dir / "aidreams260K.bin");
  EXPECT_EQ(m.config().n_heads, m.config().n_kv_heads);
  EXPECT_EQ(m.config().head_dim(), 16);
  auto tok = BpeTokenizer::load(dir / "tok512.bin");
  auto ids = tok->encode("I dream of", true, false);
  KVCache cache(m.config(), m.config().max_seq_len);
  Mat l = m.forward(ids, 0, cache);
  for (float x : l.flat()) ASSERT_TRUE(std::isfinite(x));
  // Its tokenizer round-trips its own text.
  EXPECT_EQ(tok->decode_all(ids), "I dream of");
}

}  // namespace
}  // namespace duq::model
