// lm-eval's loglikelihood rule on a toy tokenizer and a toy model whose log-probabilities have a closed
// form, so every expected value below is computed by hand (not by the code under test):
//   tokenizer: one token per byte (id = byte value), except ": " which is one token (id 300);
//   model:     a bigram model: after token t the logits are 0 everywhere except logit[(t+1) mod V] = a,
//              so log p(next) = a − log(e^a + V − 1) when next = t+1, else −log(e^a + V − 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

#include "core/error.h"
#include "eval/tasks/results.h"
#include "eval/tasks/scorer.h"

namespace duq::eval::tasks {
namespace {

constexpr int kV = 320, kBos = 1, kMerged = 300;
constexpr float kA = 2.f;

class ToyTokenizer : public model::Tokenizer {
 public:
  std::vector<int> encode(const std::string& text, bool bos, bool eos) const override {
    std::vector<int> t;
    if (bos) t.push_back(kBos);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ':' && i + 1 < text.size() && text[i + 1] == ' ') {
        t.push_back(kMerged);
        ++i;
      } else {
        t.push_back(static_cast<unsigned char>(text[i]));
      }
    }
    if (eos) t.push_back(2);
    return t;
  }
  std::string decode(int, int token) const override { return std::string(1, static_cast<char>(token)); }
  int vocab_size() const override { return kV; }
  int bos_id() const override { return kBos; }
  int eos_id() const override { return 2; }
};

// What the toy model was fed: one entry per chunk, `call` numbering the forward calls.
struct Call {
  std::vector<int> tokens;
  int pos0;
  bool last_only;
  int call;
};

// The bigram toy as a batched forward: each chunk's rows (all, or its last) stacked in chunk order.
BatchForwardFn toy_model(std::vector<Call>* calls) {
  return [calls, n = 0](std::span<const model::SeqChunk> chunks) mutable {
    int64_t rows = 0;
    for (const auto& ch : chunks) rows += ch.all_logits ? static_cast<int64_t>(ch.tokens.size()) : 1;
    Mat m(rows, kV);
    int64_t row = 0;
    for (const auto& ch : chunks) {
      calls->push_back({{ch.tokens.begin(), ch.tokens.end()}, ch.pos0, !ch.all_logits, n});
      for (size_t r = ch.all_logits ? 0 : ch.tokens.size() - 1; r < ch.tokens.size(); ++r, ++row) {
        std::fill(m.row(row), m.row(row) + kV, 0.f);
        m.row(row)[(ch.tokens[r] + 1) % kV] = kA;
      }
    }
    ++n;
    return m;
  };
}

// One document's requests through a scorer.
std::vector<ChoiceScore> score_doc(Scorer& s, std::vector<EncodedRequest> reqs) {
  return s.score({std::move(reqs)})[0];
}

model::ModelConfig toy_config() {
  model::ModelConfig c;
  c.dim = 8, c.hidden_dim = 8, c.n_layers = 1, c.n_heads = 1, c.n_kv_heads = 1, c.vocab_size = kV, c.max_seq_len = 64;
  return c;
}

const double kLogZ = std::log(std::exp(double(kA)) + kV - 1);
double hit() { return kA - kLogZ; }
double miss() { return -kLogZ; }

TEST(TaskScorer, ContinuationIsWholeMinusContextTokens) {
  ToyTokenizer tok;
  // "Answer:" + " yes": the whole text merges ": " into one token, so the continuation loses its space:
  // whole = A n s w e r 300 y e s (10), context = A n s w e r : (7) → continuation = whole[7:] = y e s.
  auto r = encode_request(tok, "Answer:", " yes", false);
  EXPECT_EQ(r.context, (std::vector<int>{'A', 'n', 's', 'w', 'e', 'r', ':'}));
  EXPECT_EQ(r.continuation, (std::vector<int>{'y', 'e', 's'}));
  // Trailing whitespace of the context moves to the continuation: "Answer: " + "no" → "Answer:" + " no".
  auto m = encode_request(tok, "Answer: ", "no", false);
  EXPECT_EQ(m.context.back(), ':');
  EXPECT_EQ(m.continuation, (std::vector<int>{'n', 'o'}));  // whole = A n s w e r 300 n o; whole[7:] = n o
  // BOS on both sides when asked; the split is unchanged.
  auto b = encode_request(tok, "ab", " c", true);
  EXPECT_EQ(b.context, (std::vector<int>{kBos, 'a', 'b'}));
  EXPECT_EQ(b.continuation, (std::vector<int>{' ', 'c'}));
  // An empty context scores from [BOS].
  auto e = encode_request(tok, "", "xy", false);
  EXPECT_EQ(e.context, (std::vector<int>{kBos}));
  EXPECT_EQ(e.continuation, (std::vector<int>{'x', 'y'}));
}

TEST(TaskScorer, SharedPrefixScoresEachChoiceByHand) {
  ToyTokenizer tok;
  std::vector<Call> calls;
  auto cfg = toy_config();
  Scorer s(toy_model(&calls), cfg, 64, /*share_prefix=*/true);
  // Context "ab": choices " bc" (tokens ' ' b c) and "bc" (b c). Predictions:
  //   " bc": b→' ' miss, ' '→b miss, b→c hit  → 2·miss + hit
  //   "bc":  b→b miss, b→c hit                 → miss + hit
  std::vector<EncodedRequest> reqs = {encode_request(tok, "ab", " bc", false), encode_request(tok, "ab", "bc", false)};
  auto sc = score_doc(s, reqs);
  EXPECT_NEAR(sc[0].ll, 2 * miss() + hit(), 1e-9);
  EXPECT_NEAR(sc[1].ll, miss() + hit(), 1e-9);
  EXPECT_FALSE(sc[0].greedy);
  EXPECT_EQ(sc[0].tokens, 3);
  // One context pass (last row only), then each continuation minus its last token from position 2.
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].call, 2);
  EXPECT_EQ(calls[0].tokens, (std::vector<int>{'a', 'b'}));
  EXPECT_TRUE(calls[0].last_only);
  EXPECT_EQ(calls[1].tokens, (std::vector<int>{' ', 'b'}));
  EXPECT_EQ(calls[1].pos0, 2);
  EXPECT_EQ(calls[2].tokens, (std::vector<int>{'b'}));
  EXPECT_EQ(calls[2].pos0, 2);
  // A greedy continuation: "ab" → "cd" is all hits.
  auto g = score_doc(s, {encode_request(tok, "ab", "cd", false)});
  EXPECT_TRUE(g[0].greedy);
  EXPECT_NEAR(g[0].ll, 2 * hit(), 1e-9);
}

TEST(TaskScorer, NaiveEqualsSharedAndTruncatesOnTheLeft) {
  ToyTokenizer tok;
  std::vector<Call> calls;
  auto cfg = toy_config();
  Scorer naive(toy_model(&calls), cfg, 5, /*share_prefix=*/false);
  // 6 context tokens + 2 continuation tokens with a window of 5: the model sees
  // (context + continuation)[-6:][:-1] = c d e f x from position 0, and the last 2 rows score x, y.
  auto sc = score_doc(naive, {encode_request(tok, "abcdef", "xy", false)});
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].tokens, (std::vector<int>{'c', 'd', 'e', 'f', 'x'}));
  EXPECT_EQ(calls[0].pos0, 0);
  EXPECT_TRUE(sc[0].truncated);
  EXPECT_NEAR(sc[0].ll, miss() + hit(), 1e-9);  // f→x miss, x→y hit
  // The shared path keeps the same window: the context's last 6 − 2 tokens c d e f once, then x from
  // position 4; a 1-token choice keeps 5 context tokens (b c d e f), a different pass.
  calls.clear();
  Scorer shared(toy_model(&calls), cfg, 5, true);
  auto sc2 = score_doc(shared, {encode_request(tok, "abcdef", "xy", false), encode_request(tok, "abcdef", "gz", false),
                                encode_request(tok, "abcdef", "g", false)});
  // Call 0: both contexts (last rows only); then one round per choice sharing c d e f (the 1-token choice
  // needs no call after its context).
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].tokens, (std::vector<int>{'c', 'd', 'e', 'f'}));
  EXPECT_EQ(calls[1].tokens, (std::vector<int>{'b', 'c', 'd', 'e', 'f'}));
  EXPECT_TRUE(calls[1].last_only);
  EXPECT_EQ(calls[1].call, 0);
  EXPECT_EQ(calls[2].tokens, (std::vector<int>{'x'}));
  EXPECT_EQ(calls[2].pos0, 4);
  EXPECT_EQ(calls[2].call, 1);
  EXPECT_EQ(calls[3].tokens, (std::vector<int>{'g'}));
  EXPECT_EQ(calls[3].call, 2);
  EXPECT_DOUBLE_EQ(sc2[0].ll, sc[0].ll);
  EXPECT_TRUE(sc2[0].truncated);
  EXPECT_NEAR(sc2[1].ll, hit() + miss(), 1e-9);  // f→g hit, g→z miss
  EXPECT_NEAR(sc2[2].ll, hit(), 1e-9);           // f→g hit
  // A continuation (7 tokens) longer than the window (5): only its last 5 tokens are scored.
  calls.clear();
  auto sc3 = score_doc(shared, {encode_request(tok, "a", "bcdefgh", false)});
  // all = a b c d e f g h; last 6 = c d e f g h; fed c d e f g; rows predict d e f g h (all hits).
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].tokens, (std::vector<int>{'c', 'd', 'e', 'f', 'g'}));
  EXPECT_EQ(sc3[0].tokens, 5);
  EXPECT_NEAR(sc3[0].ll, 5 * hit(), 1e-9);
  EXPECT_EQ(shared.clipped(), 1);
}

// A toy whose predictions depend on the whole sequence through its cache: after tokens s_0 … s_p the logit
// peak is at (s_p + 1 + (s_0 + … + s_p) mod 3) mod V. The cache remembers the sequence's tokens (in
// KVCache::ext), so a continuation run over another document's cache, from a wrong position or after stale
// rows, predicts other tokens and scores differently.
struct SeqTokens : model::KVCacheExtension {
  std::vector<int> t;
};

BatchForwardFn sequence_toy(int* n_calls) {
  return [n_calls](std::span<const model::SeqChunk> chunks) {
    ++*n_calls;
    int64_t rows = 0;
    for (const auto& ch : chunks) {
      rows += ch.all_logits ? static_cast<int64_t>(ch.tokens.size()) : 1;
      if (std::count_if(chunks.begin(), chunks.end(), [&](const auto& o) { return o.cache == ch.cache; }) > 1)
        throw std::runtime_error("two chunks of one call share a cache");  // as Model::forward_batch refuses
    }
    Mat m(rows, kV);
    int64_t row = 0;
    for (const auto& ch : chunks) {
      if (!dynamic_cast<SeqTokens*>(ch.cache->ext.get())) ch.cache->ext = std::make_unique<SeqTokens>();
      auto& seq = static_cast<SeqTokens*>(ch.cache->ext.get())->t;
      if (static_cast<size_t>(ch.pos0) > seq.size()) throw std::runtime_error("chunk starts past its cache");
      seq.resize(static_cast<size_t>(ch.pos0));
      seq.insert(seq.end(), ch.tokens.begin(), ch.tokens.end());
      for (size_t r = ch.all_logits ? 0 : ch.tokens.size() - 1; r < ch.tokens.size(); ++r, ++row) {
        const size_t p = static_cast<size_t>(ch.pos0) + r;
        long sum = 0;
        for (size_t i = 0; i <= p; ++i) sum += seq[i];
        std::fill(m.row(row), m.row(row) + kV, 0.f);
        m.row(row)[(seq[p] + 1 + sum % 3) % kV] = kA;
      }
    }
    return m;
  };
}

// Documents of every shape the tasks produce, with random lengths: choices sharing a context (2–4), two
// contexts and one continuation (WinoGrande), windows left-truncated (window 400), a continuation longer
// than the window, single requests (LAMBADA).
std::vector<std::vector<EncodedRequest>> random_docs(int n) {
  std::mt19937 rng(7);
  auto tokens = [&](int lo, int hi) {
    std::vector<int> t(std::uniform_int_distribution<size_t>(lo, hi)(rng));
    for (int& x : t) x = std::uniform_int_distribution<int>(3, 299)(rng);
    return t;
  };
  std::vector<std::vector<EncodedRequest>> docs(static_cast<size_t>(n));
  for (int d = 0; d < n; ++d) {
    auto& reqs = docs[static_cast<size_t>(d)];
    switch (d % 5) {
      case 0: {  // multiple choice
        const auto ctx = tokens(1, 300);
        for (int c = 2 + d % 3; c > 0; --c) reqs.push_back({ctx, tokens(1, 30)});
        break;
      }
      case 1: {  // partial scoring
        const auto cont = tokens(2, 20);
        reqs = {{tokens(5, 60), cont}, {tokens(5, 60), cont}};
        break;
      }
      case 2: {  // left-truncated: kept contexts differ with the continuation length
        const auto ctx = tokens(390, 420);
        reqs = {{ctx, tokens(1, 1)}, {ctx, tokens(15, 25)}, {ctx, tokens(1, 1)}};
        break;
      }
      case 3:  // a continuation longer than the window beside a normal one
        reqs = {{tokens(3, 10), tokens(410, 450)}, {tokens(3, 10), tokens(2, 9)}};
        break;
      default: reqs = {{tokens(20, 200), tokens(1, 6)}};
    }
  }
  return docs;
}

// The documents in the given order, `batch` per score() call.
std::vector<std::vector<ChoiceScore>> score_in_batches(Scorer& s, const std::vector<std::vector<EncodedRequest>>& docs,
                                                       const std::vector<size_t>& order, size_t batch) {
  std::vector<std::vector<ChoiceScore>> out(docs.size());
  for (size_t b = 0; b < order.size(); b += batch) {
    std::vector<std::vector<EncodedRequest>> part;
    for (size_t k = b; k < std::min(order.size(), b + batch); ++k) part.push_back(docs[order[k]]);
    auto sc = s.score(part);
    for (size_t k = b; k < std::min(order.size(), b + batch); ++k) out[order[k]] = sc[k - b];
  }
  return out;
}

TEST(TaskScorer, BatchedDocumentsScoreExactlyAsAloneAndAsWholeSequences) {
  const auto cfg = toy_config();
  const int window = 400;
  const auto docs = random_docs(37);
  std::vector<size_t> in_order(docs.size()), shuffled;
  std::iota(in_order.begin(), in_order.end(), 0);
  shuffled = in_order;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(11));
  // Reference: one whole sequence per request, one document at a time (no cache shared by anything).
  int ref_calls = 0, alone_calls = 0, batched_calls = 0, naive_calls = 0;
  Scorer ref(sequence_toy(&ref_calls), cfg, window, /*share_prefix=*/false);
  Scorer alone(sequence_toy(&alone_calls), cfg, window, true);
  Scorer batched(sequence_toy(&batched_calls), cfg, window, true);
  Scorer naive(sequence_toy(&naive_calls), cfg, window, false);
  const auto want = score_in_batches(ref, docs, in_order, 1);
  const auto a = score_in_batches(alone, docs, in_order, 1);
  const auto b = score_in_batches(batched, docs, shuffled, 16);
  const auto n = score_in_batches(naive, docs, shuffled, 16);
  for (size_t d = 0; d < docs.size(); ++d) {
    ASSERT_EQ(want[d].size(), docs[d].size());
    for (const auto* got : {&a, &b, &n})
      for (size_t i = 0; i < docs[d].size(); ++i) {
        const ChoiceScore &x = want[d][i], &y = (*got)[d][i];
        EXPECT_EQ(x.ll, y.ll) << "doc " << d << " request " << i;
        EXPECT_EQ(x.greedy, y.greedy) << "doc " << d << " request " << i;
        EXPECT_EQ(x.tokens, y.tokens) << "doc " << d << " request " << i;
        EXPECT_EQ(x.truncated, y.truncated) << "doc " << d << " request " << i;
      }
  }
  // The shapes are there: windows truncated, continuations clipped (the 7 documents of kind 3).
  EXPECT_EQ(ref.clipped(), 7);
  EXPECT_EQ(batched.clipped(), 7);
  EXPECT_TRUE(want[2][0].truncated);
  // Batching happened: 3 score() calls of a few forward calls each (37 one document at a time); the whole
  // sequences of a batch exceed kMaxTokensPerCall and are split over several calls.
  EXPECT_LT(batched_calls, alone_calls / 4);
  EXPECT_GT(naive_calls, 3);
}

TEST(TaskResults, AccNormDividesByCharactersAndStderrIsSampleStderr) {
  Doc d;
  d.choices = {"ab", "abcd"};
  d.gold = 1;
  std::vector<ChoiceScore> s(2);
  s[0].ll = -3;  // per char −1.5
  s[1].ll = -4;  // per char −1.0
  auto r = doc_result(d, s);
  EXPECT_EQ(r.acc, 0);
  EXPECT_EQ(r.acc_norm, 1);
  // Code points, not bytes: "é" is one character.
  EXPECT_EQ(utf8_length("\xc3\xa9t\xc3\xa9"), 3u);
  // mean of {1,0,0,1} = 0.5; sample sd = sqrt(1/3); stderr = sqrt(1/3)/2.
  auto [m, se] = mean_stderr({1, 0, 0, 1});
  EXPECT_DOUBLE_EQ(m, 0.5);
  EXPECT_NEAR(se, std::sqrt(1.0 / 3.0) / 2.0, 1e-12);
  // Ties go to the first choice (np.argmax).
  s[0].ll = s[1].ll = -1;
  d.gold = 0;
  EXPECT_EQ(doc_result(d, s).acc, 1);
}

TEST(TaskResults, LambadaPerplexityAndMmluGroups) {
  // LAMBADA: lls −1 and −3 → perplexity exp(2); acc = greedy share; stderr of the ll mean = 1 → ppl·1.
  Task lam{"lambada", Kind::Lambada, false, {}};
  std::vector<DocResult> docs(2);
  docs[0].lls = {-1};
  docs[0].greedy = {true};
  docs[1].lls = {-3};
  docs[1].greedy = {false};
  auto m = aggregate(lam, docs);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].metric, "perplexity");
  EXPECT_NEAR(m[0].value, std::exp(2.0), 1e-12);
  EXPECT_NEAR(m[0].stderr_, std::exp(2.0) * 1.0, 1e-12);  // sd(−1, −3) = √2, /√2 = 1
  EXPECT_EQ(m[1].metric, "acc");
  EXPECT_DOUBLE_EQ(m[1].value, 0.5);
  // MMLU: overall over all documents, per category, per subject; no acc_norm.
  Task mm{"mmlu", Kind::MultipleChoice, false, {}};
  std::vector<DocResult> q(3);
  q[0].group = "anatomy", q[0].acc = 1;
  q[1].group = "anatomy", q[1].acc = 0;
  q[2].group = "philosophy", q[2].acc = 1;
  auto g = aggregate(mm, q);
  std::map<std::string, double> v;
  for (auto& x : g) v[x.key + "/" + x.metric] = x.value;
  EXPECT_EQ(v.size(), 5u);  // mmlu, mmlu_stem, mmlu_humanities, mmlu_anatomy, mmlu_philosophy
  EXPECT_DOUBLE_EQ(v["mmlu/acc"], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(v["mmlu_stem/acc"], 0.5);
  EXPECT_DOUBLE_EQ(v["mmlu_humanities/acc"], 1.0);
  EXPECT_DOUBLE_EQ(v["mmlu_anatomy/acc"], 0.5);
}

}  // namespace
}  // namespace duq::eval::tasks
