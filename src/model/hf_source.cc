#include "model/hf_source.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/json_file.h"
#include "formats/safetensors.h"

namespace duq::model {

namespace fs = std::filesystem;
using formats::DType;
using formats::TensorStore;

namespace {

std::string layer_name(int l, const char* what) { return "model.layers." + std::to_string(l) + "." + what + ".weight"; }

int to_int(int64_t v, const char* key, const std::string& source) {
  if (v < INT_MIN || v > INT_MAX) fail(source, ": field '", key, "' = ", v, " is out of range");
  return static_cast<int>(v);
}

// All ids of an int-or-list field (Llama 3 lists several eos ids); empty when absent or null.
std::vector<int> token_ids(const nlohmann::json& j, const char* key, const std::string& source) {
  std::vector<int> ids;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ids;
  if (!it->is_array()) return {to_int(formats::json_int(j, key, source), key, source)};
  for (const auto& v : *it)
    ids.push_back(to_int(formats::json_int(nlohmann::json{{key, v}}, key, source), key, source));
  return ids;
}

// bos/eos ids are an int, a list of ints (Llama 3 lists several eos ids: the first is eos_id, the others
// ModelConfig::extra_eos_ids) or null.
int token_id(const nlohmann::json& j, const char* key, int dflt, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (it->is_array()) {
    if (it->empty()) return dflt;
    return to_int(formats::json_int(nlohmann::json{{key, (*it)[0]}}, key, source), key, source);
  }
  return to_int(formats::json_int(j, key, source), key, source);
}

// A float written with the fewest digits that read back to the same float: 1e-05, not 9.99999974738e-06.
double shortest(float f) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::stod(std::string(buf, r.ptr));
}

// The id of special token `key` ("bos_token") named in tokenizer_config.json, through its own
// added_tokens_decoder ({"128000": {"content": "<|begin_of_text|>", ...}}); nullopt when it cannot tell.
std::optional<int> tokenizer_config_id(const nlohmann::json& tc, const char* key, const std::string& source) {
  auto it = tc.find(key);
  if (it == tc.end() || it->is_null()) return std::nullopt;
  std::string content;
  if (it->is_string()) content = it->get<std::string>();
  else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) content = (*it)["content"];
  else fail(source, ": field '", key, "' must be a string or an object with 'content'");
  auto dec = tc.find("added_tokens_decoder");
  if (dec == tc.end() || !dec->is_object()) return std::nullopt;
  for (const auto& [id, tok] : dec->items())
    if (tok.is_object() && tok.value("content", std::string()) == content) {
      int v = 0;
      auto r = std::from_chars(id.data(), id.data() + id.size(), v);
      if (r.ec != std::errc() || r.ptr != id.data() + id.size())
        fail(source, ": added_tokens_decoder key '", id, "' is not a token id");
      return v;
    }
  return std::nullopt;
}

}  // namespace

// BOS/EOS as generation uses them: generation_config.json overrides config.json (transformers' generate()
// reads it); where neither gives an id, tokenizer_config.json's bos_token / eos_token through its
// added_tokens_decoder.
void apply_special_token_files(ModelConfig& c, const std::string& dir, const nlohmann::json& config) {
  bool have_bos = config.contains("bos_token_id") && !config["bos_token_id"].is_null();
  bool have_eos = config.contains("eos_token_id") && !config["eos_token_id"].is_null();
  const fs::path gen = fs::path(dir) / "generation_config.json";
  if (fs::exists(gen)) {
    const nlohmann::json g = formats::read_json_file(gen);
    if (!g.is_object()) fail(gen.string(), ": expected a JSON object");
    if (g.contains("bos_token_id") && !g["bos_token_id"].is_null()) {
      c.bos_id = token_id(g, "bos_token_id", c.bos_id, gen.string());
      have_bos = true;
    }
    if (g.contains("eos_token_id") && !g["eos_token_id"].is_null()) {
      c.eos_id = token_id(g, "eos_token_id", c.eos_id, gen.string());
      const auto ids = token_ids(g, "eos_token_id", gen.string());
      c.extra_eos_ids.assign(ids.size() > 1 ? ids.begin() + 1 : ids.end(), ids.end());
      have_eos = true;
    }
  }
  const fs::path tcp = fs::path(dir) / "tokenizer_config.json";
  if ((!have_bos || !have_eos) && fs::exists(tcp)) {
    const nlohmann::json tc = formats::read_json_file(tcp);
    if (!tc.is_object()) fail(tcp.string(), ": expected a JSON object");
    if (auto b = tokenizer_config_id(tc, "bos_token", tcp.string()); b && !have_bos) c.bos_id = *b;
    if (auto e = tokenizer_config_id(tc, "eos_token", tcp.string()); e && !have_eos) c.eos_id = *e;
  }
  for (int e : c.extra_eos_ids)
    if (e < 0 || e >= c.vocab_size)
      fail(dir, ": eos id ", e, " (generation_config.json) outside the vocabulary of ", c.vocab_size);
  if (c.bos_id < 0 || c.bos_id >= c.vocab_size || c.eos_id < 0 || c.eos_id >= c.vocab_size)
    fail(dir, ": bos id ", c.bos_id, " / eos id ", c.eos_id,
         " (config.json, generation_config.json, "
         "tokenizer_config.json) outside the vocabulary of ",
         c.vocab_size);
}

namespace {

class HfSource : public WeightSource {
 public:
  explicit HfSource(const std::string& dir) : dir_(dir) {
    const fs::path cfg_path = fs::path(dir) / "config.json";
    const nlohmann::json j = formats::read_json_file(cfg_path);
    cfg_ = parse_hf_config(j.dump(), cfg_path.string());
    apply_special_token_files(cfg_, dir, j);
    store_ = TensorStore::open(dir);
    check_all_shapes();
  }

  const ModelConfig& config() const override { return cfg_; }
  std::string description() const override { return "Hugging Face model " + dir_; }

  Mat embedding() const override { return store_.to_f32("model.embed_tokens.weight", cfg_.vocab_size, cfg_.dim); }

  LayerWeights layer(int l) const override {
    DUQ_CHECK(l >= 0 && l < cfg_.n_layers, "layer ", l);
    const int64_t D = cfg_.dim, H = cfg_.hidden_dim, Q = cfg_.q_dim(), K = cfg_.kv_dim();
    LayerWeights w;
    w.attn_norm = store_.to_vec(layer_name(l, "input_layernorm"), D);
    w.wq = store_.to_f32(layer_name(l, "self_attn.q_proj"), Q, D);
    w.wk = store_.to_f32(layer_name(l, "self_attn.k_proj"), K, D);
    w.wv = store_.to_f32(layer_name(l, "self_attn.v_proj"), K, D);
    w.wo = store_.to_f32(layer_name(l, "self_attn.o_proj"), D, Q);
    w.ffn_norm = store_.to_vec(layer_name(l, "post_attention_layernorm"), D);
    w.w_gate = store_.to_f32(layer_name(l, "mlp.gate_proj"), H, D);
    w.w_up = store_.to_f32(layer_name(l, "mlp.up_proj"), H, D);
    w.w_down = store_.to_f32(layer_name(l, "mlp.down_proj"), D, H);
    return w;
  }

  Vec final_norm() const override { return store_.to_vec("model.norm.weight", cfg_.dim); }

  Mat lm_head() const override {
    if (cfg_.tied_embeddings) return Mat();
    return store_.to_f32("lm_head.weight", cfg_.vocab_size, cfg_.dim);
  }

 private:
  // Every tensor present with the shape config.json implies, before any block is read.
  void check_all_shapes() const {
    const int64_t D = cfg_.dim, H = cfg_.hidden_dim, Q = cfg_.q_dim(), K = cfg_.kv_dim(), V = cfg_.vocab_size;
    auto need = [&](const std::string& name, std::vector<int64_t> shape) {
      if (!store_.has(name))
        fail(store_.source(), ": missing tensor '", name, "' (expected shape ", formats::shape_str(shape), ")");
      store_.check_shape(name, shape);
      const auto& t = store_.get(name);
      if (!formats::dtype_is_float(t.dtype))
        fail(t.file, ": tensor '", name, "' has dtype ", formats::dtype_name(t.dtype), ", expected a float type");
    };
    need("model.embed_tokens.weight", {V, D});
    for (int l = 0; l < cfg_.n_layers; ++l) {
      need(layer_name(l, "input_layernorm"), {D});
      need(layer_name(l, "self_attn.q_proj"), {Q, D});
      need(layer_name(l, "self_attn.k_proj"), {K, D});
      need(layer_name(l, "self_attn.v_proj"), {K, D});
      need(layer_name(l, "self_attn.o_proj"), {D, Q});
      need(layer_name(l, "post_attention_layernorm"), {D});
      need(layer_name(l, "mlp.gate_proj"), {H, D});
      need(layer_name(l, "mlp.up_proj"), {H, D});
      need(layer_name(l, "mlp.down_proj"), {D, H});
    }
    need("model.norm.weight", {D});
    if (!cfg_.tied_embeddings) need("lm_head.weight", {V, D});
    if (store_.has(layer_name(cfg_.n_layers, "input_layernorm")))
      fail(store_.source(), ": has tensors for layer ", cfg_.n_layers,
           " but config.json says num_hidden_layers = ", cfg_.n_layers);
  }

  std::string dir_;
  ModelConfig cfg_;
  TensorStore store_;
};

}  // namespace

RopeScaling parse_rope_scaling(const nlohmann::json& rs, const std::string& source) {
  using namespace formats;
  if (!rs.is_object()) fail(source, ": rope_scaling must be an object or null (got ", rs.dump(), ")");
  // transformers ≥ 4.45 writes rope_type, older versions type; either names the variant.
  auto type = json_opt_string(rs, "rope_type", source);
  if (!type) type = json_opt_string(rs, "type", source);
  if (!type) fail(source, ": rope_scaling ", rs.dump(), " has no 'rope_type' (or 'type')");
  RopeScaling r;
  if (*type == "default") return r;
  if (*type == "linear") {
    r.type = RopeScaling::Type::Linear;
    r.factor = static_cast<float>(json_float(rs, "factor", source));
  } else if (*type == "llama3") {
    r.type = RopeScaling::Type::Llama3;
    r.factor = static_cast<float>(json_float(rs, "factor", source));
    r.low_freq_factor = static_cast<float>(json_float(rs, "low_freq_factor", source));
    r.high_freq_factor = static_cast<float>(json_float(rs, "high_freq_factor", source));
    r.original_max_pos =
        to_int(json_int(rs, "original_max_position_embeddings", source), "original_max_position_embeddings", source);
  } else {
    fail(source, ": rope_scaling type '", *type, "' is not supported (duquant reads linear and llama3)");
  }
  return r;
}

ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
  using namespace formats;
  const nlohmann::json j = parse_json(json_text, source);
  if (!j.is_object()) fail(source, ": expected a JSON object");

  // Which architecture: LLaMA and Mistral share the block (Mistral's sliding window handled below).
  bool supported = false;
  if (auto a = j.find("architectures"); a != j.end() && !a->is_null()) {
    if (!a->is_array()) fail(source, ": field 'architectures' must be a list");
    for (const auto& name : *a)
      if (name == "LlamaForCausalLM" || name == "MistralForCausalLM") supported = true;
    if (!supported)
      fail(source, ": architectures ", a->dump(),
           " not supported (duquant reads LlamaForCausalLM, MistralForCausalLM)");
  } else {
    const auto mt = json_opt_string(j, "model_type", source);
    if (!mt) fail(source, ": missing field 'architectures' (or 'model_type'): cannot tell the model family");
    if (*mt != "llama" && *mt != "mistral")
      fail(source, ": model_type '", *mt, "' not supported (duquant reads llama, mistral)");
  }
  if (auto act = json_opt_string(j, "hidden_act", source); act && *act != "silu")
    fail(source, ": hidden_act '", *act, "' not supported (LLaMA uses silu)");
  for (const char* bias : {"attention_bias", "mlp_bias"})
    if (json_opt_bool(j, bias, source).value_or(false))
      fail(source, ": ", bias, " = true is not supported (LLaMA linears have no bias)");

  ModelConfig c;
  c.dim = to_int(json_int(j, "hidden_size", source), "hidden_size", source);
  c.hidden_dim = to_int(json_int(j, "intermediate_size", source), "intermediate_size", source);
  c.n_layers = to_int(json_int(j, "num_hidden_layers", source), "num_hidden_layers", source);
  c.n_heads = to_int(json_int(j, "num_attention_heads", source), "num_attention_heads", source);
  c.n_kv_heads =
      to_int(json_opt_int(j, "num_key_value_heads", source).value_or(c.n_heads), "num_key_value_heads", source);
  c.vocab_size = to_int(json_int(j, "vocab_size", source), "vocab_size", source);
  c.max_seq_len = to_int(json_int(j, "max_position_embeddings", source), "max_position_embeddings", source);
  // Mistral: attention over the last sliding_window positions (a window ≥ the context is full attention).
  if (auto sw = json_opt_int(j, "sliding_window", source); sw && *sw > 0 && *sw < c.max_seq_len)
    c.sliding_window = static_cast<int>(*sw);
  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null())
    c.rope_scaling = parse_rope_scaling(*rs, source);
  c.rope_theta = static_cast<float>(json_opt_float(j, "rope_theta", source).value_or(10000.0));
  c.rms_eps = static_cast<float>(json_float(j, "rms_norm_eps", source));
  c.tied_embeddings = json_opt_bool(j, "tie_word_embeddings", source).value_or(false);
  c.bos_id = token_id(j, "bos_token_id", 1, source);
  c.eos_id = token_id(j, "eos_token_id", 2, source);
  if (auto ids = token_ids(j, "eos_token_id", source); ids.size() > 1)
    c.extra_eos_ids.assign(ids.begin() + 1, ids.end());
  c.rope_layout = RopeLayout::RotateHalf;
  if (auto rl = json_opt_string(j, "duquant_rope_layout", source)) {
    if (*rl == "interleaved") c.rope_layout = RopeLayout::Interleaved;
    else if (*rl != "rotate_half")
      fail(source, ": duquant_rope_layout '", *rl, "' must be 'interleaved' or 'rotate_half'");
  }
  // head_dim ≠ hidden_size / num_attention_heads (e.g. Mistral-Nemo): q/k/v and the o-projection input are
  // n_heads·head_dim wide, which the forward pass and the quantizers handle as they handle GQA's widths.
  if (auto hd = json_opt_int(j, "head_dim", source);
      hd && (c.n_heads <= 0 || c.dim % c.n_heads != 0 || *hd != c.dim / c.n_heads))
    c.head_size = to_int(*hd, "head_dim", source);
  c.validate(source);
  if (c.bos_id < 0 || c.bos_id >= c.vocab_size || c.eos_id < 0 || c.eos_id >= c.vocab_size)
    fail(source, ": bos_token_id ", c.bos_id, " / eos_token_id ", c.eos_id, " outside the vocabulary of ",
         c.vocab_size);
  return c;
}

std::string hf_config_json(const ModelConfig& c, DType dtype) {
  const char* torch_dtype = dtype == DType::BF16 ? "bfloat16" : dtype == DType::F16 ? "float16" : "float32";
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_size"] = c.dim;
  j["intermediate_size"] = c.hidden_dim;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_seq_len;
  j["rope_theta"] = shortest(c.rope_theta);
  switch (c.rope_scaling.type) {
    case RopeScaling::Type::None: j["rope_scaling"] = nullptr; break;
    case RopeScaling::Type::Linear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", shortest(c.rope_scaling.factor)}};
      break;
    case RopeScaling::Type::Llama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", shortest(c.rope_scaling.factor)},
                           {"low_freq_factor", shortest(c.rope_scaling.low_freq_factor)},
                           {"high_freq_factor", shortest(c.rope_scaling.high_freq_factor)},
                           {"original_max_position_embeddings", c.rope_scaling.original_max_pos}};
      break;
    case RopeScaling::Type::FreqFactors:
      fail(
          "config.json has no form for per-frequency RoPE factors (a GGUF's rope_freqs.weight); this model "
          "cannot be written as a Hugging Face directory");
  }
  if (c.head_size > 0) j["head_dim"] = c.head_size;
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  j["rms_norm_eps"] = shortest(c.rms_eps);
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = c.tied_embeddings;
  j["bos_token_id"] = c.bos_id;
  if (c.extra_eos_ids.empty()) {
    j["eos_token_id"] = c.eos_id;
  } else {
    std::vector<int> ids = {c.eos_id};
    ids.insert(ids.end(), c.extra_eos_ids.begin(), c.extra_eos_ids.end());
    j["eos_token_id"] = ids;
  }
  j["torch_dtype"] = torch_dtype;
  // Not a Hugging Face field: transformers ignores it and would apply rotate-half RoPE to these weights.
  if (c.rope_layout == RopeLayout::Interleaved) j["duquant_rope_layout"] = "interleaved";
  return j.dump(2) + "\n";
}

namespace {
// A finite value must stay finite in the storage type: float16 holds ±65504 at most (beyond it the file would
// hold Inf, which the next command refuses). NaN/Inf already present are written as they are (the readers
// refuse them, naming the tensor).
void check_storable(const std::string& dir, const std::string& name, std::span<const float> v, DType dtype) {
  if (dtype != DType::F16) return;
  for (float x : v) {
    if (std::isfinite(x) && std::fabs(x) > 65504.f)
      fail(dir, ": weight '", name, "' holds ", x, ", beyond float16's range (±65504); use --dtype bf16 or f32");
  }
}
}  // namespace

void write_hf_model(const std::string& dir, const ModelConfig& c, const ModelWeights& w, DType dtype, bool force,
                    const std::vector<std::pair<std::string, std::string>>& extra_files) {
  if (static_cast<int64_t>(w.layers.size()) != c.n_layers)
    fail(dir, ": weights have ", w.layers.size(), " layers, config says ", c.n_layers);
  write_hf_model(dir, WeightsView(c, w), dtype, force, extra_files);
}

void write_hf_model(const std::string& dir, const WeightSource& src, DType dtype, bool force,
                    const std::vector<std::pair<std::string, std::string>>& extra_files) {
  const ModelConfig& c = src.config();
  c.validate("model to write to " + dir);
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    fail(dir, ": cannot write weights as ", formats::dtype_name(dtype), " (use F32, F16 or BF16)");
  const Replace replace = force ? Replace::IfRegular : Replace::No;
  check_dir_replaceable(dir, replace);

  // What the writer is converting now: one table, or one block (read from `src` when its first tensor's turn
  // comes, dropped when the next block's does).
  struct Current {
    int layer = -2;  // -1: a table or norm; ≥ 0: block
    LayerWeights block;
    Mat table;
    Vec norm;
  };
  auto cur = std::make_shared<Current>();
  auto block = [&src, cur](int l) -> const LayerWeights& {
    if (cur->layer != l) {
      cur->table = Mat();
      cur->block = src.layer(l);
      cur->layer = l;
    }
    return cur->block;
  };
  const int64_t D = c.dim, H = c.hidden_dim, Q = c.q_dim(), K = c.kv_dim(), V = c.vocab_size;
  std::vector<formats::TensorToWrite> t;
  auto checked_mat = [dir, dtype](const std::string& name, const Mat& m, int64_t rows, int64_t cols) {
    if (m.rows() != rows || m.cols() != cols)
      fail(dir, ": weight '", name, "' is [", m.rows(), ", ", m.cols(), "], config expects [", rows, ", ", cols, "]");
    check_storable(dir, name, m.flat(), dtype);
    return m.flat();
  };
  auto checked_vec = [dir, dtype](const std::string& name, const Vec& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) != n)
      fail(dir, ": weight '", name, "' has ", v.size(), " values, config expects ", n);
    check_storable(dir, name, std::span<const float>(v.data(), v.size()), dtype);
    return std::span<const float>(v.data(), v.size());
  };
  // A table or the final norm, read when written.
  auto table = [&](const std::string& name, const std::function<Mat()>& read, int64_t rows, int64_t cols) {
    t.push_back({name, dtype, {rows, cols}, {}, [=] {
                   cur->block = LayerWeights();
                   cur->layer = -1;
                   cur->table = read();
                   return checked_mat(name, cur->table, rows, cols);
                 }});
  };
  auto mat = [&](int l, const std::string& part, Mat LayerWeights::*m, int64_t rows, int64_t cols) {
    const std::string name = layer_name(l, part.c_str());
    t.push_back({name, dtype, {rows, cols}, {}, [=] { return checked_mat(name, block(l).*m, rows, cols); }});
  };
  auto vec = [&](int l, const std::string& part, Vec LayerWeights::*v) {
    const std::string name = layer_name(l, part.c_str());
    t.push_back({name, dtype, {D}, {}, [=] { return checked_vec(name, block(l).*v, D); }});
  };
  table(
      "model.embed_tokens.weight", [&src] { return src.embedding(); }, V, D);
  for (int l = 0; l < c.n_layers; ++l) {
    vec(l, "input_layernorm", &LayerWeights::attn_norm);
    mat(l, "self_attn.q_proj", &LayerWeights::wq, Q, D);
    mat(l, "self_attn.k_proj", &LayerWeights::wk, K, D);
    mat(l, "self_attn.v_proj", &LayerWeights::wv, K, D);
    mat(l, "self_attn.o_proj", &LayerWeights::wo, D, Q);
    vec(l, "post_attention_layernorm", &LayerWeights::ffn_norm);
    mat(l, "mlp.gate_proj", &LayerWeights::w_gate, H, D);
    mat(l, "mlp.up_proj", &LayerWeights::w_up, H, D);
    mat(l, "mlp.down_proj", &LayerWeights::w_down, D, H);
  }
  t.push_back({"model.norm.weight", dtype, {D}, {}, [=, &src] {
                 cur->block = LayerWeights();
                 cur->layer = -1;
                 cur->norm = src.final_norm();
                 return checked_vec("model.norm.weight", cur->norm, D);
               }});
  if (!c.tied_embeddings)
    table(
        "lm_head.weight", [&src] { return src.lm_head(); }, V, D);

  // Built beside `dir` and swapped in complete: a failure leaves no directory and the old one whole (and no
  // stale shards or index from an earlier model next to the new one).
  StagedDir staged(dir);
  formats::write_safetensors(staged.path() / "model.safetensors", t, {{"format", "pt"}});
  write_file_atomic(staged.path() / "config.json", hf_config_json(c, dtype));
  for (const auto& [name, bytes] : extra_files) write_file_atomic(staged.path() / name, bytes);
  staged.commit(replace);
}

std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir) { return std::make_unique<HfSource>(dir); }

}  // namespace duq::model
