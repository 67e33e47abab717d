// llama.cpp GGUF model files as input: small files written here with tensors in F32, F16, BF16 and Q8_0 whose
// bytes are spelled out by hand (so the expected floats do not come from our own converters), the config
// read from llama.* keys, routing between float and quantized GGUF files, and refusals by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/gguf_source.h"
#include "model/gguf_tokenizer.h"
#include "model/rope_freq.h"
#include "model/tokenizer.h"
#include "model/weights.h"
#include "test_support.h"
#include "tokenizer_json_fixture.h"

namespace duq::model {
namespace {

using formats::GgmlType;
using formats::GgufValue;
using formats::GgufWriter;
namespace fs = std::filesystem;

constexpr int D = 32, H = 64, L = 1, NH = 4, NKV = 2, V = 40, HD = D / NH;

// f16 / bf16 bit patterns with the values they stand for (worked out by hand from the formats' definitions).
const std::pair<uint16_t, float> kF16[] = {
    {0x3C00, 1.f}, {0xC000, -2.f}, {0x3800, 0.5f}, {0x3E00, 1.5f}, {0x0001, 5.9604644775390625e-8f}, {0x7BFF, 65504.f}};
const std::pair<uint16_t, float> kBF16[] = {{0x3F80, 1.f}, {0xC040, -3.f}, {0x3F00, 0.5f}, {0x4120, 10.f}};

struct Spec {
  std::string arch = "llama";
  GgmlType attn_k_type = GgmlType::BF16;
  bool with_output = false;
  std::function<void(GgufWriter&)> more_kv = nullptr;
  std::vector<std::string> skip_tensors = {};
  bool rope_freqs = false;
};

// Keeps every tensor's bytes alive until write().
struct Bytes {
  std::vector<std::vector<uint8_t>> b;
  std::span<const uint8_t> add(std::vector<uint8_t> v) {
    b.push_back(std::move(v));
    return b.back();
  }
};

std::vector<uint8_t> f32_bytes(size_t n, float start) {
  std::vector<uint8_t> out(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const float x = start + 0.125f * static_cast<float>(i % 17);
    std::memcpy(out.data() + 4 * i, &x, 4);
  }
  return out;
}
template <size_t N>
std::vector<uint8_t> u16_bytes(size_t n, const std::pair<uint16_t, float> (&table)[N]) {
  std::vector<uint8_t> out(n * 2);
  for (size_t i = 0; i < n; ++i) std::memcpy(out.data() + 2 * i, &table[i % N].first, 2);
  return out;
}
// Q8_0 blocks: scale 0.5 (f16 0x3800) then q = (i mod 32) − 16, so value i is 0.5·((i mod 32) − 16).
std::vector<uint8_t> q8_0_bytes(size_t n) {
  std::vector<uint8_t> out;
  for (size_t b = 0; b < n / 32; ++b) {
    out.push_back(0x00);
    out.push_back(0x38);
    for (int i = 0; i < 32; ++i) out.push_back(static_cast<uint8_t>(static_cast<int8_t>(i - 16)));
  }
  return out;
}

fs::path write_model(const std::string& name, const Spec& s = {}) {
  GgufWriter w;
  Bytes keep;
  const std::string a = s.arch + ".";
  w.add_kv("general.architecture", s.arch);
  w.add_kv(a + "context_length", uint32_t{128});
  w.add_kv(a + "embedding_length", uint32_t{D});
  w.add_kv(a + "feed_forward_length", uint32_t{H});
  w.add_kv(a + "block_count", uint32_t{L});
  w.add_kv(a + "attention.head_count", uint32_t{NH});
  w.add_kv(a + "attention.head_count_kv", uint32_t{NKV});
  w.add_kv(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.add_kv(a + "rope.freq_base", 500000.f);
  if (s.more_kv) s.more_kv(w);
  auto skip = [&](const std::string& n) {
    return std::find(s.skip_tensors.begin(), s.skip_tensors.end(), n) != s.skip_tensors.end();
  };
  auto t = [&](const std::string& n, GgmlType type, uint64_t cols, uint64_t rows) {
    if (skip(n)) return;
    const size_t count = cols * rows;
    std::vector<uint8_t> b;
    switch (type) {
      case GgmlType::F32: b = f32_bytes(count, -1.f); break;
      case GgmlType::F16: b = u16_bytes(count, kF16); break;
      case GgmlType::BF16: b = u16_bytes(count, kBF16); break;
      case GgmlType::Q8_0: b = q8_0_bytes(count); break;
      case GgmlType::I8: b.assign(count, 1); break;
      default: FAIL();
    }
    std::vector<uint64_t> dims = rows == 1 ? std::vector<uint64_t>{cols} : std::vector<uint64_t>{cols, rows};
    w.add_tensor(n, type, dims, keep.add(std::move(b)));
  };
  t("token_embd.weight", GgmlType::Q8_0, D, V);
  t("output_norm.weight", GgmlType::F32, D, 1);
  if (s.with_output) t("output.weight", GgmlType::F16, D, V);
  if (s.rope_freqs) {
    std::vector<uint8_t> b(HD / 2 * 4);
    for (int i = 0; i < HD / 2; ++i) {
      const float f = 1.f + static_cast<float>(i);
      std::memcpy(b.data() + 4 * i, &f, 4);
    }
    w.add_tensor("rope_freqs.weight", GgmlType::F32, {HD / 2}, keep.add(std::move(b)));
  }
  t("blk.0.attn_norm.weight", GgmlType::F32, D, 1);
  t("blk.0.attn_q.weight", GgmlType::F16, D, D);
  t("blk.0.attn_k.weight", s.attn_k_type, D, NKV * HD);
  t("blk.0.attn_v.weight", GgmlType::F32, D, NKV * HD);
  t("blk.0.attn_output.weight", GgmlType::F32, D, D);
  t("blk.0.ffn_norm.weight", GgmlType::F32, D, 1);
  t("blk.0.ffn_gate.weight", GgmlType::F32, D, H);
  t("blk.0.ffn_up.weight", GgmlType::Q8_0, D, H);
  t("blk.0.ffn_down.weight", GgmlType::F32, H, D);
  const fs::path p = duq::test::temp_dir("gguf_source") / (name + ".gguf");
  w.write(p);
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

TEST(GgufModel, ReadsConfigFromLlamaKeys) {
  auto src = open_weights(write_model("config").string());
  const ModelConfig& c = src->config();
  EXPECT_EQ(c.dim, D);
  EXPECT_EQ(c.hidden_dim, H);
  EXPECT_EQ(c.n_layers, L);
  EXPECT_EQ(c.n_heads, NH);
  EXPECT_EQ(c.n_kv_heads, NKV);
  EXPECT_EQ(c.vocab_size, V);  // no llama.vocab_size: the embedding's rows
  EXPECT_EQ(c.max_seq_len, 128);
  EXPECT_TRUE(c.context_extendable);
  EXPECT_EQ(c.rope_theta, 500000.f);
  EXPECT_EQ(c.rms_eps, 1e-6f);
  EXPECT_TRUE(c.tied_embeddings);  // no output.weight
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::None);
  EXPECT_FALSE(open_weights(write_model("untied", {.with_output = true}).string())->config().tied_embeddings);
}

TEST(GgufModel, DequantizesEachTensorType) {
  auto src = open_weights(write_model("types", {.with_output = true}).string());
  const Mat e = src->embedding();  // Q8_0
  for (int64_t i = 0; i < e.size(); ++i) ASSERT_EQ(e.data()[i], 0.5f * static_cast<float>(i % 32 - 16)) << i;
  const LayerWeights l = src->layer(0);
  for (int64_t i = 0; i < l.wq.size(); ++i) ASSERT_EQ(l.wq.data()[i], kF16[i % 6].second) << i;   // F16
  for (int64_t i = 0; i < l.wk.size(); ++i) ASSERT_EQ(l.wk.data()[i], kBF16[i % 4].second) << i;  // BF16
  for (int64_t i = 0; i < l.w_up.size(); ++i) ASSERT_EQ(l.w_up.data()[i], 0.5f * static_cast<float>(i % 32 - 16));
  for (int64_t i = 0; i < l.wv.size(); ++i) ASSERT_EQ(l.wv.data()[i], -1.f + 0.125f * static_cast<float>(i % 17));
  // Shapes in PyTorch order [out × in] from ggml's {in, out}.
  EXPECT_EQ(l.wk.rows(), NKV * HD);
  EXPECT_EQ(l.wk.cols(), D);
  EXPECT_EQ(l.w_down.rows(), D);
  EXPECT_EQ(l.w_down.cols(), H);
  const Mat o = src->lm_head();  // F16
  for (int64_t i = 0; i < o.size(); ++i) ASSERT_EQ(o.data()[i], kF16[i % 6].second);
  // The whole model loads (finite everywhere).
  EXPECT_NO_THROW(src->load_all());
}

TEST(GgufModel, RopeFreqsTensorAndLinearScaling) {
  const ModelConfig c = open_weights(write_model("freqs", {.rope_freqs = true}).string())->config();
  ASSERT_EQ(c.rope_scaling.type, RopeScaling::Type::FreqFactors);
  const auto f = rope_inv_freq(c);
  for (int i = 0; i < HD / 2; ++i) EXPECT_DOUBLE_EQ(f[i], std::pow(500000.0, -2.0 * i / HD) / (1 + i));
  const ModelConfig lin = open_weights(write_model("linear", {.more_kv =
                                                                  [](GgufWriter& w) {
                                                                    w.add_kv("llama.rope.scaling.type", "linear");
                                                                    w.add_kv("llama.rope.scaling.factor", 4.f);
                                                                  }})
                                           .string())
                              ->config();
  EXPECT_EQ(lin.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_EQ(lin.rope_scaling.factor, 4.f);
}

TEST(GgufModel, RefusesWhatItCannotRun) {
  auto err = [](const std::string& name, const Spec& s) {
    return error_of([&] { open_weights(write_model(name, s).string()); });
  };
  EXPECT_NE(err("qwen", {.arch = "qwen2"}).find("architecture 'qwen2' is not supported"), std::string::npos);
  EXPECT_NE(err("i8", {.attn_k_type = GgmlType::I8}).find("tensor 'blk.0.attn_k.weight' is I8"), std::string::npos);
  EXPECT_NE(err("missing", {.skip_tensors = {"blk.0.ffn_up.weight"}}).find("missing tensor 'blk.0.ffn_up.weight'"),
            std::string::npos);
  EXPECT_NE(err("yarn", {.more_kv = [](GgufWriter& w) { w.add_kv("llama.rope.scaling.type", "yarn"); }})
                .find("rope.scaling.type 'yarn'"),
            std::string::npos);
  EXPECT_NE(err("partial", {.more_kv = [](GgufWriter& w) { w.add_kv("llama.rope.dimension_count", uint32_t{4}); }})
                .find("partial RoPE"),
            std::string::npos);
  EXPECT_NE(err("moe", {.more_kv = [](GgufWriter& w) { w.add_kv("llama.expert_count", uint32_t{8}); }})
                .find("mixture-of-experts"),
            std::string::npos);
  // A duquant quantized file is told apart by its key and refused as a float model, by name.
  const std::string q =
      err("quant", {.more_kv = [](GgufWriter& w) { w.add_kv("duquant.format_version", uint32_t{2}); }});
  EXPECT_NE(q.find("a quantized duquant model"), std::string::npos) << q;
  EXPECT_EQ(gguf_kind(write_model("kind").string()), GgufKind::FloatModel);
}

TEST(GgufModel, MistralArchitectureReadsItsOwnKeys) {
  const ModelConfig c =
      open_weights(
          write_model("mistral",
                      {.arch = "mistral",
                       .more_kv = [](GgufWriter& w) { w.add_kv("mistral.attention.sliding_window", uint32_t{16}); }})
              .string())
          ->config();
  EXPECT_EQ(c.dim, D);
  EXPECT_EQ(c.sliding_window, 16);
}

// A SentencePiece-style vocabulary as llama.cpp stores it: "▁" for space, scores, byte tokens.
GgufKeyValues llama_vocab() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  // 259 "▁", 260 "a", 261 "b", 262 "▁a" (score −1), 263 "▁ab" (score −2), 264 "ab" (score −3)
  for (auto [t, s] : std::vector<std::pair<const char*, float>>{{"\xE2\x96\x81", -10},
                                                                {"a", -20},
                                                                {"b", -20},
                                                                {"\xE2\x96\x81"
                                                                 "a",
                                                                 -1},
                                                                {"\xE2\x96\x81"
                                                                 "ab",
                                                                 -2},
                                                                {"ab", -3}}) {
    tokens.push_back(t);
    scores.push_back(s);
    types.push_back(1);
  }
  return {{"tokenizer.ggml.model", GgufValue("llama")},
          {"tokenizer.ggml.tokens", GgufValue(tokens)},
          {"tokenizer.ggml.scores", GgufValue(scores)},
          {"tokenizer.ggml.token_type", GgufValue(types)},
          {"tokenizer.ggml.bos_token_id", GgufValue(uint32_t{1})},
          {"tokenizer.ggml.eos_token_id", GgufValue(uint32_t{2})}};
}

TEST(GgufTokenizer, LlamaVocabularyLikeSentencePiece) {
  auto tok = tokenizer_from_gguf_kv(llama_vocab(), "vocab.gguf");
  // "ab" → dummy prefix: ["▁", "a", "b"]; best pair "▁a" (−1) → ["▁a", "b"] → "▁ab" (−2).
  EXPECT_EQ(tok->encode("ab", true, false), (std::vector<int>{1, 263}));
  // "ba": ["▁", "b", "a"]: no pair merges ("▁b", "ba" are not tokens).
  EXPECT_EQ(tok->encode("ba", false, false), (std::vector<int>{259, 261, 260}));
  // é (C3 A9) is not a token: byte fallback to <0xC3> <0xA9> = ids 3 + byte.
  EXPECT_EQ(tok->encode("é", false, false), (std::vector<int>{259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->decode_all(tok->encode("ab ba", true, false)), "ab ba");
}

TEST(GgufTokenizer, Gpt2VocabularyEncodesLikeTheSameTokenizerJson) {
  // LLaMA-3 as llama.cpp stores it: tokenizer.ggml.model "gpt2", pre "llama-bpe", merges, special tokens typed
  // control (3). Built from the same tokens and merges as the tokenizer.json fixture, it must give its ids.
  const auto json = nlohmann::json::parse(duq::test::tokenizer_json({"hi", "th", "the"}, {"h i", "t h", "th e"}, true));
  std::vector<std::string> tokens(1003);
  std::vector<int32_t> types(1003, 1);
  for (const auto& [text, id] : json["model"]["vocab"].items()) tokens[id.get<size_t>()] = text;
  for (const auto& a : json["added_tokens"]) {
    tokens[a["id"].get<size_t>()] = a["content"];
    types[a["id"].get<size_t>()] = 3;
  }
  GgufKeyValues kv = {{"tokenizer.ggml.model", GgufValue("gpt2")},
                      {"tokenizer.ggml.pre", GgufValue("llama-bpe")},
                      {"tokenizer.ggml.tokens", GgufValue(tokens)},
                      {"tokenizer.ggml.token_type", GgufValue(types)},
                      {"tokenizer.ggml.merges", GgufValue(std::vector<std::string>{"h i", "t h", "th e"})},
                      {"tokenizer.ggml.bos_token_id", GgufValue(uint32_t{1000})},
                      {"tokenizer.ggml.eos_token_id", GgufValue(uint32_t{1001})}};
  auto g = tokenizer_from_gguf_kv(kv, "llama3.gguf");
  auto j = tokenizer_json_from_bytes(json.dump(), "tokenizer.json", 1000, 1001);
  const std::string text = "hi the\n\nthe 2024 <|eot_id|>Über";
  EXPECT_EQ(g->encode(text, true, false), j->encode(text, true, false));
  // "hi" 256, " the" = Ġ + "the" (Ġ 32, the 258): the word merges are per pre-token.
  EXPECT_EQ(g->encode("hi the", false, false), (std::vector<int>{256, 32, 258}));
  EXPECT_EQ(g->decode_all(g->encode(text, true, false)), "hi the\n\nthe 2024 Über");
}

TEST(GgufTokenizer, RefusesUnknownModelsAndPreTokenizers) {
  auto kv = llama_vocab();
  kv[0].second = GgufValue("bert");
  EXPECT_NE(error_of([&] { tokenizer_from_gguf_kv(kv, "v.gguf"); }).find("tokenizer.ggml.model 'bert'"),
            std::string::npos);
  kv[0].second = GgufValue("gpt2");
  kv.emplace_back("tokenizer.ggml.merges", GgufValue(std::vector<std::string>{}));
  kv.emplace_back("tokenizer.ggml.pre", GgufValue("qwen2"));
  EXPECT_NE(error_of([&] { tokenizer_from_gguf_kv(kv, "v.gguf"); }).find("tokenizer.ggml.pre 'qwen2'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tokenizer_from_gguf_kv({}, "v.gguf"); }).find("no tokenizer"), std::string::npos);
}

}  // namespace
}  // namespace duq::model
