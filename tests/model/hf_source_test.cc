// Hugging Face model directories: config.json parsing, write → open round trips, shape errors, and the
// synthetic weights used to make such directories.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "config_expect.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/hf_source.h"
#include "model/synthetic.h"
#include "test_support.h"

using namespace duq::model;
using duq::formats::DType;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

// A minimal LLaMA-2-7B-like config.json; `extra` is spliced in as more fields.
std::string config_text(const std::string& extra = "", const std::string& drop = "") {
  std::string fields[] = {R"("architectures": ["LlamaForCausalLM"])",
                          R"("hidden_size": 4096)",
                          R"("intermediate_size": 11008)",
                          R"("num_hidden_layers": 32)",
                          R"("num_attention_heads": 32)",
                          R"("vocab_size": 32000)",
                          R"("max_position_embeddings": 4096)",
                          R"("rms_norm_eps": 1e-05)"};
  std::string s = "{";
  for (const auto& f : fields) {
    if (!drop.empty() && f.find("\"" + drop + "\"") != std::string::npos) continue;
    s += (s.size() > 1 ? ", " : "") + f;
  }
  if (!extra.empty()) s += ", " + extra;
  return s + "}";
}

ModelConfig small_config() {
  ModelConfig c;
  c.dim = 32;
  c.hidden_dim = 88;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 50;
  c.max_seq_len = 64;
  c.rms_eps = 1e-6f;
  c.rope_theta = 500000.f;
  c.tied_embeddings = false;
  c.rope_layout = RopeLayout::RotateHalf;
  return c;
}

void expect_mat_eq(const duq::Mat& a, const duq::Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << what << " element " << i;
}

}  // namespace

TEST(HfConfig, ReadsLlamaFieldsAndDefaults) {
  const ModelConfig c = parse_hf_config(config_text(), "config.json");
  EXPECT_EQ(c.dim, 4096);
  EXPECT_EQ(c.hidden_dim, 11008);
  EXPECT_EQ(c.n_layers, 32);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.n_kv_heads, 32);  // defaults to heads
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.max_seq_len, 4096);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.f);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(c.rope_layout, RopeLayout::RotateHalf);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
}

TEST(HfConfig, ReadsOptionalFields) {
  const ModelConfig c = parse_hf_config(
      config_text(R"("num_key_value_heads": 8, "rope_theta": 500000.0, "tie_word_embeddings": true,)"
                  R"( "bos_token_id": 5, "eos_token_id": [7, 9], "rope_scaling": null, "hidden_act": "silu",)"
                  R"( "duquant_rope_layout": "interleaved", "head_dim": 128)"),
      "config.json");
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.f);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.bos_id, 5);
  EXPECT_EQ(c.eos_id, 7);
  EXPECT_EQ(c.extra_eos_ids, (std::vector<int>{9}));  // generation stops on either
  EXPECT_TRUE(c.is_eos(9));
  EXPECT_FALSE(c.is_eos(5));
  EXPECT_EQ(c.rope_layout, RopeLayout::Interleaved);
  EXPECT_EQ(c.head_size, 0);  // 128 = 4096 / 32: no override
  // Mistral: model_type alone identifies it; the sliding window restricts attention, not the context.
  const ModelConfig m = parse_hf_config(
      config_text(R"("model_type": "mistral", "sliding_window": 1024)", "architectures"), "config.json");
  EXPECT_EQ(m.max_seq_len, 4096);
  EXPECT_EQ(m.sliding_window, 1024);
  // A window at least as long as the context is full attention.
  EXPECT_EQ(parse_hf_config(config_text(R"("sliding_window": 4096)"), "c").sliding_window, 0);
}

TEST(HfConfig, ReadsLlama3AndMistralDetails) {
  // LLaMA-3.1-8B's config.json fields.
  const ModelConfig c = parse_hf_config(
      config_text(R"("num_key_value_heads": 8, "rope_theta": 500000.0, "rope_scaling": {"factor": 8.0,)"
                  R"( "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,)"
                  R"( "rope_type": "llama3"})"),
      "config.json");
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_EQ(c.rope_scaling.factor, 8.f);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.f);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.f);
  EXPECT_EQ(c.rope_scaling.original_max_pos, 8192);
  const ModelConfig lin =
      parse_hf_config(config_text(R"("rope_scaling": {"type": "linear", "factor": 2.0})"), "config.json");
  EXPECT_EQ(lin.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_EQ(lin.rope_scaling.factor, 2.f);
  // head_dim ≠ hidden_size / heads (Mistral-Nemo: 5120 / 32 heads of 128).
  const ModelConfig nemo = parse_hf_config(config_text(R"("head_dim": 256)"), "config.json");
  EXPECT_EQ(nemo.head_dim(), 256);
  EXPECT_EQ(nemo.q_dim(), 32 * 256);
  // Each variant survives config.json → parse → config.json → parse.
  for (const ModelConfig& x : {c, lin, nemo}) {
    const ModelConfig back = parse_hf_config(hf_config_json(x, DType::F32), "back");
    EXPECT_EQ(back.rope_scaling, x.rope_scaling);
    EXPECT_EQ(back.head_size, x.head_size);
  }
}

TEST(HfConfig, MissingFieldIsNamed) {
  EXPECT_EQ(error_of([] { parse_hf_config(config_text("", "num_attention_heads"), "/m/config.json"); }),
            "/m/config.json: missing field 'num_attention_heads'");
  EXPECT_EQ(error_of([] { parse_hf_config(config_text("", "rms_norm_eps"), "/m/config.json"); }),
            "/m/config.json: missing field 'rms_norm_eps'");
}

TEST(HfConfig, RejectsWhatWeCannotRun) {
  auto err = [](const std::string& extra, const std::string& drop = "") {
    return error_of([&] { parse_hf_config(config_text(extra, drop), "/m/config.json"); });
  };
  EXPECT_NE(err(R"("rope_scaling": {"type": "yarn", "factor": 4.0})").find("rope_scaling type 'yarn'"),
            std::string::npos);
  EXPECT_NE(err(R"("rope_scaling": {"rope_type": "dynamic", "factor": 2.0})").find("'dynamic'"), std::string::npos);
  EXPECT_NE(err(R"("architectures": ["GPT2LMHeadModel"])", "architectures").find("GPT2LMHeadModel"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "gpt_neox")", "architectures").find("model_type 'gpt_neox' not supported"),
            std::string::npos);
  EXPECT_NE(err("", "architectures").find("cannot tell the model family"), std::string::npos);
  EXPECT_NE(err(R"("hidden_act": "gelu")").find("hidden_act 'gelu'"), std::string::npos);
  EXPECT_NE(err(R"("attention_bias": true)").find("attention_bias"), std::string::npos);
  EXPECT_NE(err(R"("head_dim": 7)").find("head size 7 must be even"), std::string::npos);
  EXPECT_NE(err(R"("num_key_value_heads": 5)").find("not a multiple of n_kv_heads"), std::string::npos);
  EXPECT_NE(err(R"("duquant_rope_layout": "sideways")").find("duquant_rope_layout"), std::string::npos);
  EXPECT_NE(err(R"("num_attention_heads": "32")", "num_attention_heads").find("must be an integer"), std::string::npos);
  for (const auto& m : {err(R"("rope_scaling": {"factor": 2})"), err(R"("hidden_act": "relu")")})
    EXPECT_EQ(m.rfind("/m/config.json: ", 0), 0u) << m;
}

TEST(HfModel, WriteThenOpenRoundTripsF32Exactly) {
  const ModelConfig c = small_config();
  const ModelWeights w = random_weights(c, 7);
  const fs::path d = duq::test::temp_dir("hf_roundtrip_f32") / "model";  // created by the writer
  write_hf_model(d.string(), c, w, DType::F32);
  EXPECT_TRUE(fs::exists(d / "config.json"));

  auto src = open_hf_weights(d.string());
  duq::test::expect_same_config(src->config(), c);
  EXPECT_EQ(src->config().tied_embeddings, false);
  EXPECT_EQ(src->config().rope_layout, RopeLayout::RotateHalf);
  EXPECT_NE(src->description().find(d.string()), std::string::npos);

  expect_mat_eq(src->embedding(), w.embed, "embed");
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights L = src->layer(l);
    const LayerWeights& W = w.layers[static_cast<size_t>(l)];
    expect_mat_eq(L.wq, W.wq, "wq");
    expect_mat_eq(L.wk, W.wk, "wk");
    expect_mat_eq(L.wv, W.wv, "wv");
    expect_mat_eq(L.wo, W.wo, "wo");
    expect_mat_eq(L.w_gate, W.w_gate, "w_gate");
    expect_mat_eq(L.w_up, W.w_up, "w_up");
    expect_mat_eq(L.w_down, W.w_down, "w_down");
    EXPECT_EQ(L.attn_norm, W.attn_norm);
    EXPECT_EQ(L.ffn_norm, W.ffn_norm);
  }
  EXPECT_EQ(src->final_norm(), w.final_norm);
  expect_mat_eq(src->lm_head(), w.lm_head, "lm_head");
}

TEST(HfModel, Bf16TiedAndInterleavedRoundTrip) {
  ModelConfig c = small_config();
  c.tied_embeddings = true;
  c.rope_layout = RopeLayout::Interleaved;
  const ModelWeights w = random_weights(c, 8);
  EXPECT_EQ(w.lm_head.size(), 0);
  const fs::path d = duq::test::temp_dir("hf_roundtrip_bf16");
  write_hf_model(d.string(), c, w, DType::BF16, /*force=*/true);  // exists but empty: fine either way
  auto src = open_hf_weights(d.string());
  EXPECT_TRUE(src->config().tied_embeddings);
  EXPECT_EQ(src->config().rope_layout, RopeLayout::Interleaved);
  EXPECT_EQ(src->lm_head().size(), 0);
  const duq::Mat wq = src->layer(1).wq;
  const duq::Mat& ref = w.layers[1].wq;
  for (int64_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(wq.data()[i], ref.data()[i], std::fabs(ref.data()[i]) * (1.0 / 256) + 1e-30) << i;
}

TEST(HfModel, RefusesToOverwriteUnlessForced) {
  const ModelConfig c = small_config();
  const ModelWeights w = random_weights(c, 1);
  const fs::path d = duq::test::temp_dir("hf_overwrite");
  write_hf_model(d.string(), c, w, DType::F32);
  const std::string m = error_of([&] { write_hf_model(d.string(), c, w, DType::F32); });
  EXPECT_NE(m.find(d.string()), std::string::npos) << m;
  EXPECT_NE(m.find("not empty"), std::string::npos) << m;
  write_hf_model(d.string(), c, random_weights(c, 2), DType::F32, /*force=*/true);
  expect_mat_eq(open_hf_weights(d.string())->embedding(), random_weights(c, 2).embed, "embed after --force");
}

TEST(HfModel, WrongShapeNamesTensorFileAndShapes) {
  const ModelConfig c = small_config();
  const fs::path d = duq::test::temp_dir("hf_bad_shape");
  write_hf_model(d.string(), c, random_weights(c, 3), DType::F32);
  // Same directory, but config.json claims a wider FFN than the tensors have.
  ModelConfig wider = c;
  wider.hidden_dim = 96;
  duq::test::write_bytes(d / "config.json", hf_config_json(wider, DType::F32));
  const std::string m = error_of([&] { open_hf_weights(d.string()); });
  EXPECT_NE(m.find((d / "model.safetensors").string()), std::string::npos) << m;
  EXPECT_NE(m.find("model.layers.0.mlp.gate_proj.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("has shape [88, 32], expected [96, 32]"), std::string::npos) << m;
}

TEST(HfModel, MissingTensorIsNamed) {
  const ModelConfig c = small_config();
  const fs::path d = duq::test::temp_dir("hf_missing_tensor");
  const std::vector<float> v(static_cast<size_t>(c.vocab_size * c.dim), 0.f);
  duq::formats::write_safetensors(d / "model.safetensors", {{"model.embed_tokens.weight", DType::F32, {50, 32}, v}});
  duq::test::write_bytes(d / "config.json", hf_config_json(c, DType::F32));
  const std::string m = error_of([&] { open_hf_weights(d.string()); });
  EXPECT_NE(m.find("missing tensor 'model.layers.0.input_layernorm.weight' (expected shape [32])"), std::string::npos)
      << m;
  EXPECT_NE(m.find(d.string()), std::string::npos) << m;
}

TEST(HfModel, MissingConfigIsNamed) {
  const fs::path d = duq::test::temp_dir("hf_no_config");
  const std::string m = error_of([&] { open_hf_weights(d.string()); });
  EXPECT_NE(m.find((d / "config.json").string()), std::string::npos) << m;
}

TEST(SyntheticWeights, DeterministicAndScaled) {
  const ModelConfig c = small_config();
  const ModelWeights a = random_weights(c, 42), b = random_weights(c, 42), other = random_weights(c, 43);
  expect_mat_eq(a.layers[1].w_down, b.layers[1].w_down, "same seed");
  EXPECT_NE(a.layers[1].w_down(0, 0), other.layers[1].w_down(0, 0));
  ASSERT_EQ(a.layers.size(), 2u);
  EXPECT_EQ(a.layers[0].attn_norm, duq::Vec(32, 1.f));
  auto stddev = [](const duq::Mat& m) {
    double s = 0;
    for (float v : m.flat()) s += double(v) * v;
    return std::sqrt(s / static_cast<double>(m.size()));
  };
  EXPECT_NEAR(stddev(a.layers[0].wq), 1.0 / std::sqrt(32.0), 0.1 / std::sqrt(32.0));
  EXPECT_NEAR(stddev(a.layers[0].w_down), 1.0 / std::sqrt(88.0 * 4), 0.1 / std::sqrt(88.0 * 4));
  EXPECT_NEAR(stddev(a.lm_head), 1.0 / std::sqrt(32.0), 0.1 / std::sqrt(32.0));
  EXPECT_NEAR(stddev(a.embed), 1.0, 0.1);
}

TEST(HfConfig, BosEosFromGenerationAndTokenizerConfig) {
  const fs::path d = duq::test::temp_dir("hf_special_ids");
  ModelConfig c = parse_hf_config(config_text(R"("bos_token_id": 5, "eos_token_id": 6)"), "config.json");
  // generation_config.json wins over config.json (LLaMA-3.1-Instruct lists several EOS ids: the first is used).
  duq::test::write_bytes(d / "generation_config.json", R"({"bos_token_id": 7, "eos_token_id": [9, 10]})");
  apply_special_token_files(c, d.string(), nlohmann::json::parse(R"({"bos_token_id": 5, "eos_token_id": 6})"));
  EXPECT_EQ(c.bos_id, 7);
  EXPECT_EQ(c.eos_id, 9);
  EXPECT_EQ(c.extra_eos_ids, (std::vector<int>{10}));
  // Neither names them: tokenizer_config.json's bos_token / eos_token through its added_tokens_decoder.
  fs::remove(d / "generation_config.json");
  duq::test::write_bytes(
      d / "tokenizer_config.json",
      R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"},)"
      R"( "added_tokens_decoder": {"128000": {"content": "<|begin_of_text|>"}, "128009": {"content": "<|eot_id|>"}}})");
  ModelConfig l3 = parse_hf_config(config_text(R"("vocab_size": 128256)", "vocab_size"), "config.json");
  apply_special_token_files(l3, d.string(), nlohmann::json::parse("{}"));
  EXPECT_EQ(l3.bos_id, 128000);
  EXPECT_EQ(l3.eos_id, 128009);
  // An id outside the vocabulary is named.
  duq::test::write_bytes(d / "generation_config.json", R"({"eos_token_id": 999999})");
  EXPECT_NE(error_of([&] { apply_special_token_files(l3, d.string(), nlohmann::json::parse("{}")); }).find("999999"),
            std::string::npos);
}
