// Float weights of a LLaMA model by role, PyTorch layout W [out × in]. Shapes (D = dim, H = hidden,
// Q = n_heads·hd, K = n_kv_heads·hd, V = vocab):
//   embed [V×D]; per layer: attn_norm [D], wq [Q×D], wk [K×D], wv [K×D], wo [D×Q], ffn_norm [D],
//   w_gate [H×D], w_up [H×D], w_down [D×H]; final_norm [D]; lm_head [V×D] (empty when tied).
#pragma once
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace duq::model {

struct LayerWeights {
  Vec attn_norm;
  Mat wq, wk, wv, wo;
  Vec ffn_norm;
  Mat w_gate, w_up, w_down;
};

struct ModelWeights {
  Mat embed;
  std::vector<LayerWeights> layers;
  Vec final_norm;
  Mat lm_head;  // empty when the classifier is tied to the embedding
  const Mat& classifier() const { return lm_head.size() ? lm_head : embed; }
};

// Where weights come from, one block at a time, so that a pipeline can hold a single block in memory
// while the rest stay in the memory-mapped file. Implemented per file format.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const ModelConfig& config() const = 0;
  virtual std::string description() const = 0;  // e.g. "llama2.c checkpoint /path/x.bin"
  virtual Mat embedding() const = 0;
  virtual LayerWeights layer(int l) const = 0;
  virtual Vec final_norm() const = 0;
  virtual Mat lm_head() const = 0;  // empty Mat when tied
  // Raises config().max_seq_len to n for sources whose limit is only the training context
  // (config().context_extendable); others ignore it. Callers warn the user.
  virtual void extend_context(int n) {}
  // Everything at once (checks each tensor for NaN/Inf and names it).
  ModelWeights load_all() const;
};

// A WeightSource viewing weights held elsewhere (no copy but of the block asked for); `w` must outlive it.
class WeightsView : public WeightSource {
 public:
  WeightsView(const ModelConfig& c, const ModelWeights& w) : c_(c), w_(w) {}
  const ModelConfig& config() const override { return c_; }
  std::string description() const override { return "in-memory model"; }
  Mat embedding() const override { return w_.embed; }
  LayerWeights layer(int l) const override { return w_.layers.at(static_cast<size_t>(l)); }
  Vec final_norm() const override { return w_.final_norm; }
  Mat lm_head() const override { return w_.lm_head; }

 private:
  const ModelConfig& c_;
  const ModelWeights& w_;
};

// Opens a float model: a llama2.c checkpoint file (.bin), a Hugging Face directory (config.json +
// safetensors) or a llama.cpp GGUF file (a duquant quantized .gguf is refused with a message saying so).
// Throws duq::Error naming the path when it is none of these or is malformed.
std::unique_ptr<WeightSource> open_weights(const std::string& path);

// Throws duq::Error naming `what` if any value is NaN or ±Inf.
void check_finite(std::span<const float> v, const std::string& what);

}  // namespace duq::model
