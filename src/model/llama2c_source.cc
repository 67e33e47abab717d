#include "model/llama2c_source.h"

#include <cstring>

#include "formats/llama2c_checkpoint.h"

namespace duq::model {

namespace {

class Llama2cSource : public WeightSource {
 public:
  explicit Llama2cSource(const std::string& path) : ckpt_(path) {
    const auto& h = ckpt_.header();
    cfg_.dim = h.dim;
    cfg_.hidden_dim = h.hidden_dim;
    cfg_.n_layers = h.n_layers;
    cfg_.n_heads = h.n_heads;
    cfg_.n_kv_heads = h.n_kv_heads;
    cfg_.vocab_size = h.vocab_size;
    cfg_.max_seq_len = h.seq_len;
    cfg_.tied_embeddings = h.shared_classifier;
    cfg_.rope_layout = RopeLayout::Interleaved;
    cfg_.rms_eps = 1e-5f;  // run.c's constant
    cfg_.rope_theta = 10000.f;
    cfg_.validate(path);
  }
  const ModelConfig& config() const override { return cfg_; }
  std::string description() const override { return "llama2.c checkpoint " + ckpt_.path(); }

  Mat embedding() const override { return mat(ckpt_.layout().tok_embeddings, cfg_.vocab_size, cfg_.dim); }
  Vec final_norm() const override { return vec(ckpt_.layout().rms_final, cfg_.dim); }
  Mat lm_head() const override {
    if (cfg_.tied_embeddings) return Mat();
    return mat(ckpt_.layout().wcls, cfg_.vocab_size, cfg_.dim);
  }
  LayerWeights layer(int l) const override {
    const auto& o = ckpt_.layout();
    const uint64_t D = cfg_.dim, H = cfg_.hidden_dim, Q = cfg_.q_dim(), K = cfg_.kv_dim(), L = l;
    LayerWeights w;
    w.attn_norm = vec(o.rms_att + L * D, D);
    w.wq = mat(o.wq + L * Q * D, Q, D);
    w.wk = mat(o.wk + L * K * D, K, D);
    w.wv = mat(o.wv + L * K * D, K, D);
    w.wo = mat(o.wo + L * D * Q, D, Q);
    w.ffn_norm = vec(o.rms_ffn + L * D, D);
    w.w_gate = mat(o.w1 + L * H * D, H, D);
    w.w_down = mat(o.w2 + L * D * H, D, H);
    w.w_up = mat(o.w3 + L * H * D, H, D);
    return w;
  }

 private:
  Mat mat(uint64_t off, uint64_t rows, uint64_t cols) const {
    Mat m(static_cast<int64_t>(rows), static_cast<int64_t>(cols));
    std::memcpy(m.data(), ckpt_.floats(off), rows * cols * sizeof(float));
    return m;
  }
  Vec vec(uint64_t off, uint64_t n) const {
    Vec v(n);
    std::memcpy(v.data(), ckpt_.floats(off), n * sizeof(float));
    return v;
  }
  formats::Llama2cCheckpoint ckpt_;
  ModelConfig cfg_;
};

}  // namespace

std::unique_ptr<WeightSource> open_llama2c_weights(const std::string& path) {
  return std::make_unique<Llama2cSource>(path);
}

}  // namespace duq::model
