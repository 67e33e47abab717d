#include "model/gguf_source.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "formats/dtype.h"
#include "formats/file_kind.h"
#include "formats/q8_0.h"

namespace duq::model {

namespace {

using formats::GgmlType;
using formats::GgufFile;
using formats::GgufTensor;

std::string blk(int l, const char* what) { return "blk." + std::to_string(l) + "." + what + ".weight"; }

int64_t get_int(const GgufFile& f, const std::string& key) {
  const auto& v = f.value(key);
  return std::visit(
      [&](const auto& x) -> int64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if (x > static_cast<T>(1 << 30)) fail(f.path(), ": key ", key, " = ", x, " is absurdly large");
          return static_cast<int64_t>(x);
        } else {
          fail(f.path(), ": key ", key, " has type ", v.type_name(), ", expected an integer");
        }
      },
      v.variant());
}
int64_t get_int_or(const GgufFile& f, const std::string& key, int64_t dflt) {
  return f.has(key) ? get_int(f, key) : dflt;
}
double get_float_or(const GgufFile& f, const std::string& key, double dflt) {
  if (!f.has(key)) return dflt;
  const auto& v = f.value(key);
  if (auto* x = v.get_if<float>()) return *x;
  if (auto* x = v.get_if<double>()) return *x;
  fail(f.path(), ": key ", key, " has type ", v.type_name(), ", expected float32");
}
int to_int(int64_t v) { return static_cast<int>(v); }

// The tensor `name` as float32 [rows × cols] (PyTorch order; GGUF dims {cols, rows}) into `out`; its mapped
// pages are released once copied.
void read_f32(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols, float* out) {
  const GgufTensor& t = f.tensor(name);
  const size_t n = static_cast<size_t>(rows * cols);
  switch (t.type) {
    case GgmlType::F32: std::memcpy(out, t.data, n * sizeof(float)); break;
    case GgmlType::F16: formats::convert_to_f32(formats::DType::F16, t.data, n, out); break;
    case GgmlType::BF16: formats::convert_to_f32(formats::DType::BF16, t.data, n, out); break;
    case GgmlType::Q8_0: formats::q8_0_decode(t.data, n, out); break;
    default: DUQ_CHECK(false, "tensor type checked at open");
  }
  f.release(t);
}

class GgufSource : public WeightSource {
 public:
  explicit GgufSource(const std::string& path) : f_(GgufFile::open(path)) {
    if (f_.has("duquant.format_version"))
      fail(path,
           ": a quantized duquant model, not a float model (quantize reads float models; run it with "
           "ppl / generate)");
    cfg_ = gguf_model_config(f_);
    check_all();
  }
  const ModelConfig& config() const override { return cfg_; }
  std::string description() const override { return "GGUF model " + f_.path(); }
  void extend_context(int n) override { cfg_.max_seq_len = std::max(cfg_.max_seq_len, n); }

  Mat embedding() const override { return mat("token_embd.weight", cfg_.vocab_size, cfg_.dim); }
  Vec final_norm() const override { return vec("output_norm.weight", cfg_.dim); }
  Mat lm_head() const override {
    if (cfg_.tied_embeddings) return Mat();
    return mat("output.weight", cfg_.vocab_size, cfg_.dim);
  }
  LayerWeights layer(int l) const override {
    DUQ_CHECK(l >= 0 && l < cfg_.n_layers, "layer ", l);
    const int64_t D = cfg_.dim, H = cfg_.hidden_dim, Q = cfg_.q_dim(), K = cfg_.kv_dim();
    LayerWeights w;
    w.attn_norm = vec(blk(l, "attn_norm"), D);
    w.wq = mat(blk(l, "attn_q"), Q, D);
    w.wk = mat(blk(l, "attn_k"), K, D);
    w.wv = mat(blk(l, "attn_v"), K, D);
    w.wo = mat(blk(l, "attn_output"), D, Q);
    w.ffn_norm = vec(blk(l, "ffn_norm"), D);
    w.w_gate = mat(blk(l, "ffn_gate"), H, D);
    w.w_up = mat(blk(l, "ffn_up"), H, D);
    w.w_down = mat(blk(l, "ffn_down"), D, H);
    return w;
  }

 private:
  Mat mat(const std::string& name, int64_t rows, int64_t cols) const {
    Mat m(rows, cols);
    read_f32(f_, name, rows, cols, m.data());
    return m;
  }
  Vec vec(const std::string& name, int64_t n) const {
    Vec v(static_cast<size_t>(n));
    read_f32(f_, name, 1, n, v.data());
    return v;
  }
  void check_all() const {
    const int64_t D = cfg_.dim, H = cfg_.hidden_dim, Q = cfg_.q_dim(), K = cfg_.kv_dim(), V = cfg_.vocab_size;
    auto need = [&](const std::string& name, int64_t rows, int64_t cols, bool is_vec = false) {
      const GgufTensor* t = f_.find_tensor(name);
      if (!t) fail(f_.path(), ": missing tensor '", name, "'");
      if (t->type != GgmlType::F32 && t->type != GgmlType::F16 && t->type != GgmlType::BF16 &&
          t->type != GgmlType::Q8_0)
        fail(f_.path(), ": tensor '", name, "' is ", formats::ggml_type_name(t->type),
             "; duquant reads float models with F32, F16, BF16 or Q8_0 tensors");
      std::vector<uint64_t> want =
          is_vec ? std::vector<uint64_t>{static_cast<uint64_t>(cols)}
                 : std::vector<uint64_t>{static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
      if (t->dims != want)
        fail(f_.path(), ": tensor '", name, "' has dims ", formats::gguf_dims_str(t->dims), ", expected ",
             formats::gguf_dims_str(want), " for this model's hyper-parameters");
    };
    need("token_embd.weight", V, D);
    for (int l = 0; l < cfg_.n_layers; ++l) {
      need(blk(l, "attn_norm"), 1, D, true);
      need(blk(l, "attn_q"), Q, D);
      need(blk(l, "attn_k"), K, D);
      need(blk(l, "attn_v"), K, D);
      need(blk(l, "attn_output"), D, Q);
      need(blk(l, "ffn_norm"), 1, D, true);
      need(blk(l, "ffn_gate"), H, D);
      need(blk(l, "ffn_up"), H, D);
      need(blk(l, "ffn_down"), D, H);
      for (const char* bias : {"attn_q.bias", "attn_k.bias", "attn_v.bias"})
        if (f_.find_tensor("blk." + std::to_string(l) + "." + bias))
          fail(f_.path(), ": tensor blk.", l, ".", bias, ": q/k/v biases are not supported");
    }
    need("output_norm.weight", 1, D, true);
    if (!cfg_.tied_embeddings) need("output.weight", V, D);
    if (f_.find_tensor(blk(cfg_.n_layers, "attn_norm")))
      fail(f_.path(), ": has tensors for layer ", cfg_.n_layers, " but block_count is ", cfg_.n_layers);
  }

  GgufFile f_;
  ModelConfig cfg_;
};

}  // namespace

GgufKind gguf_kind(const std::string& path) {
  const auto f = GgufFile::open(path);
  return f.has("duquant.format_version") ? GgufKind::Quantized : GgufKind::FloatModel;
}

ModelConfig gguf_model_config(const GgufFile& f) {
  const std::string& path = f.path();
  const std::string arch = f.has("general.architecture") ? f.get<std::string>("general.architecture") : "";
  if (arch.empty()) fail(path, ": missing key general.architecture: not a llama.cpp model file");
  if (arch != "llama" && arch != "mistral")
    fail(path, ": architecture '", arch, "' is not supported (duquant reads llama and mistral GGUF models)");
  const std::string a = arch + ".";
  if (get_int_or(f, a + "expert_count", 0) > 0)
    fail(path, ": a mixture-of-experts model (", a, "expert_count = ", get_int(f, a + "expert_count"),
         ") is not supported");
  ModelConfig c;
  c.dim = to_int(get_int(f, a + "embedding_length"));
  c.hidden_dim = to_int(get_int(f, a + "feed_forward_length"));
  c.n_layers = to_int(get_int(f, a + "block_count"));
  c.n_heads = to_int(get_int(f, a + "attention.head_count"));
  c.n_kv_heads = to_int(get_int_or(f, a + "attention.head_count_kv", c.n_heads));
  c.max_seq_len = to_int(get_int(f, a + "context_length"));
  c.context_extendable = true;
  c.rope_theta = static_cast<float>(get_float_or(f, a + "rope.freq_base", 10000.0));
  c.rms_eps = static_cast<float>(get_float_or(f, a + "attention.layer_norm_rms_epsilon", -1.0));
  if (!f.has(a + "attention.layer_norm_rms_epsilon"))
    fail(path, ": missing key ", a, "attention.layer_norm_rms_epsilon");
  int64_t vocab = get_int_or(f, a + "vocab_size", -1);
  if (vocab < 0) {
    const GgufTensor& t = f.tensor("token_embd.weight");
    if (t.dims.size() != 2) fail(path, ": token_embd.weight is not 2-D");
    vocab = static_cast<int64_t>(t.dims[1]);
  }
  c.vocab_size = to_int(vocab);
  if (c.n_heads > 0 && f.has(a + "attention.key_length")) {
    const int64_t kl = get_int(f, a + "attention.key_length");
    const int64_t vl = get_int_or(f, a + "attention.value_length", kl);
    if (vl != kl) fail(path, ": attention.key_length ", kl, " ≠ value_length ", vl, " is not supported");
    if (c.dim % c.n_heads != 0 || kl != c.dim / c.n_heads) c.head_size = to_int(kl);
  }
  c.sliding_window = to_int(get_int_or(f, a + "attention.sliding_window", 0));
  if (c.sliding_window >= c.max_seq_len) c.sliding_window = 0;
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.rope_layout = RopeLayout::Interleaved;
  c.bos_id = to_int(get_int_or(f, "tokenizer.ggml.bos_token_id", 1));
  c.eos_id = to_int(get_int_or(f, "tokenizer.ggml.eos_token_id", 2));
  for (const char* k : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})  // chat models' turn ends
    if (const int64_t id = get_int_or(f, k, -1); id >= 0 && id != c.eos_id) c.extra_eos_ids.push_back(to_int(id));

  // RoPE variant: linear scaling by key; LLaMA-3.1's rescaling as llama.cpp's converter precomputes it.
  const std::string scaling = f.has(a + "rope.scaling.type") ? f.get<std::string>(a + "rope.scaling.type") : "none";
  if (scaling == "linear") {
    c.rope_scaling.type = RopeScaling::Type::Linear;
    c.rope_scaling.factor = static_cast<float>(get_float_or(f, a + "rope.scaling.factor", 1.0));
  } else if (scaling != "none") {
    fail(path, ": ", a, "rope.scaling.type '", scaling,
         "' is not supported (duquant reads none, linear, and "
         "LLaMA-3.1's rope_freqs.weight)");
  }
  if (c.n_heads > 0 && c.dim > 0) {
    const int hd = c.head_dim();
    const int64_t rope_dims = get_int_or(f, a + "rope.dimension_count", hd);
    if (rope_dims != hd)
      fail(path, ": ", a, "rope.dimension_count ", rope_dims, " ≠ head size ", hd, " (partial RoPE) is not supported");
    if (const GgufTensor* rf = f.find_tensor("rope_freqs.weight")) {
      if (c.rope_scaling.type != RopeScaling::Type::None)
        fail(path, ": both rope.scaling.type '", scaling, "' and rope_freqs.weight: ambiguous RoPE scaling");
      if (rf->type != GgmlType::F32 || rf->dims != std::vector<uint64_t>{static_cast<uint64_t>(hd / 2)})
        fail(path, ": rope_freqs.weight is ", formats::ggml_type_name(rf->type), " ", formats::gguf_dims_str(rf->dims),
             ", expected F32 [", hd / 2, "]");
      c.rope_scaling.type = RopeScaling::Type::FreqFactors;
      c.rope_scaling.freq_factors.resize(static_cast<size_t>(hd / 2));
      std::memcpy(c.rope_scaling.freq_factors.data(), rf->data, static_cast<size_t>(hd / 2) * sizeof(float));
    }
  }
  c.validate(path);
  if (c.bos_id < 0 || c.bos_id >= c.vocab_size || c.eos_id < 0 || c.eos_id >= c.vocab_size)
    fail(path, ": tokenizer.ggml.bos_token_id ", c.bos_id, " / eos_token_id ", c.eos_id, " outside the vocabulary of ",
         c.vocab_size);
  return c;
}

std::unique_ptr<WeightSource> open_gguf_weights(const std::string& path) { return std::make_unique<GgufSource>(path); }

bool is_gguf_file(const std::string& path) {
  const auto k = formats::sniff_model_file(path);
  return k == formats::FileKind::GgufDuquant || k == formats::FileKind::GgufFloat;
}

}  // namespace duq::model
