// Hostile inputs at the model layer: config.json values that do not fit what we run, NaN/Inf weights
// (named by tensor when loaded), empty text through the tokenizer, and the inputs fuzz_hf_config found.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/bpe_tokenizer.h"
#include "model/hf_source.h"
#include "model/synthetic.h"
#include "model/weights.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;
using formats::DType;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no duq::Error thrown";
  return "";
}

#define EXPECT_HAS(msg, part) \
  EXPECT_NE((msg).find(part), std::string::npos) << "expected '" << (part) << "' in: " << (msg)

ModelConfig tiny() {
  ModelConfig c;
  c.dim = 16;
  c.hidden_dim = 24;
  c.n_layers = 2;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.vocab_size = 20;
  c.max_seq_len = 32;
  c.tied_embeddings = false;
  c.rope_layout = RopeLayout::RotateHalf;
  return c;
}

// config.json for tiny() with `field` (a JSON key) set to the raw JSON `value`.
std::string config_with(const std::string& field, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(hf_config_json(tiny(), DType::F32));
  j[field] = nlohmann::json::parse(value);
  return j.dump();
}

// --- absurd sizes in config.json ----------------------------------------------------------------------

TEST(HostileHfConfig, HugeDimensionsAreNamedBeforeAnything) {
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "vocab_size", "max_position_embeddings"}) {
    for (const char* v : {"1099511627776", "2147483647", "-4"}) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::string msg = error_of([&] { parse_hf_config(config_with(field, v), "m/config.json"); });
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
      EXPECT_HAS(msg, "m/config.json");
      // to_int names the JSON field; validate() names our field (dim, hidden_dim, ...): either is fine
      // as long as the value is in the message.
      EXPECT_TRUE(msg.find(v) != std::string::npos) << field << "=" << v << ": " << msg;
    }
  }
}

// A directory whose config.json claims a 2^40-row embedding over a tiny safetensors file fails on the
// shape check (a comparison of header numbers), not on an allocation.
TEST(HostileHfModel, ConfigClaimingHugeVocabFailsOnShapeNotAllocation) {
  const fs::path dir = test::temp_dir("hostile_hf_vocab");
  const ModelConfig c = tiny();
  write_hf_model(dir.string(), c, random_weights(c, 1), DType::F32, true);
  test::write_bytes(dir / "config.json", config_with("vocab_size", "4000000"));
  const std::string msg = error_of([&] { open_hf_weights(dir.string()); });
  EXPECT_HAS(msg, "model.embed_tokens.weight");
  EXPECT_HAS(msg, "[20, 16]");
}

// --- fuzzer findings ----------------------------------------------------------------------------------

// fuzz_hf_config (round-trip property): rms_norm_eps = 1e300 is a finite double but +inf as a float;
// validate() only asked for > 0, so the config was accepted (RMSNorm then divides by inf: all-zero
// activations) and hf_config_json wrote it back as null. Fixed in config.cc: both must be finite.
TEST(HostileHfConfig, FuzzRmsEpsTooLargeForAFloatIsRejected) {
  const std::string crash = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8,)"
                            R"("intermediate_size":12,"num_hidden_layers":1,"num_attention_heads":2,)"
                            R"("num_key_value_heads":1,"vocab_size":16,"max_position_embeddings":32,)"
                            R"("rope_theta":10000.0,"rope_scaling":null,"rms_norm_eps":1e300,"hidden_act":"silu",)"
                            R"("tie_word_embeddings":true,"bos_token_id":1,"eos_token_id":2,"torch_dtype":"float32"})";
  EXPECT_HAS(error_of([&] { parse_hf_config(crash, "fuzz/config.json"); }), "must be finite");
  EXPECT_HAS(error_of([&] { parse_hf_config(config_with("rope_theta", "1e39"), "c.json"); }), "must be finite");
}

// --- NaN / Inf in weights -----------------------------------------------------------------------------

TEST(HostileWeights, NanOrInfInHfWeightsNamesTheTensor) {
  struct Case {
    const char* what;
    std::function<void(ModelWeights&)> poison;
    DType dtype;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {"layer 1 w_up", [&](ModelWeights& w) { w.layers[1].w_up(3, 5) = nan; }, DType::F32},
      {"layer 0 wk", [&](ModelWeights& w) { w.layers[0].wk(0, 0) = -inf; }, DType::BF16},
      {"token embedding", [&](ModelWeights& w) { w.embed(19, 15) = inf; }, DType::F16},
      {"final norm", [&](ModelWeights& w) { w.final_norm[7] = nan; }, DType::F32},
      {"lm_head", [&](ModelWeights& w) { w.lm_head(0, 1) = nan; }, DType::F32},
  };
  int i = 0;
  for (const Case& k : cases) {
    const fs::path dir = test::temp_dir("hostile_nan_" + std::to_string(i++));
    const ModelConfig c = tiny();
    ModelWeights w = random_weights(c, 3);
    k.poison(w);
    write_hf_model(dir.string(), c, w, k.dtype, true);
    auto src = open_weights(dir.string());  // opening checks shapes only; values are read on load
    const std::string msg = error_of([&] { src->load_all(); });
    EXPECT_HAS(msg, dir.string());
    EXPECT_HAS(msg, k.what);
    EXPECT_HAS(msg, "NaN or Inf");
  }
}

// --- empty text ---------------------------------------------------------------------------------------

TEST(HostileTokenizer, EmptyTextEncodesToOnlyTheSpecials) {
  std::vector<std::string> pieces = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    pieces.push_back(buf);
  }
  pieces.push_back(" ");
  const BpeTokenizer tok(pieces, std::vector<float>(pieces.size(), 0.f), "t.bin");
  EXPECT_TRUE(tok.encode("", false, false).empty());
  EXPECT_EQ(tok.encode("", true, false), std::vector<int>{1});
  EXPECT_EQ(tok.encode("", true, true), (std::vector<int>{1, 2}));
  EXPECT_EQ(tok.decode_all(tok.encode("", true, true)), "");
}

}  // namespace
}  // namespace duq::model
