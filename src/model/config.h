// LLaMA-family model configuration (RMSNorm, SwiGLU, RoPE, MHA or GQA).
#pragma once
#include <string>
#include <vector>

namespace duq::model {

// How RoPE pairs dimensions inside a head: llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face
// LLaMA rotates halves (i, i + hd/2). `duquant convert` permutes W_q/W_k rows so both give the same model.
enum class RopeLayout { Interleaved, RotateHalf };

// RoPE frequency scaling on top of theta^(−2i/hd) (Hugging Face rope_scaling, llama.cpp's rope keys):
//   Linear: every inverse frequency ÷ factor (positions compressed by factor);
//   Llama3: LLaMA-3.1's rescaling — wavelengths 2π/f beyond original_max_pos/low_freq_factor ÷ factor, below
//           original_max_pos/high_freq_factor unchanged, smoothly interpolated in between;
//   FreqFactors: inverse frequency i ÷ freq_factors[i] (llama.cpp's rope_freqs.weight, the same rescaling
//           precomputed by its converter).
struct RopeScaling {
  enum class Type { None, Linear, Llama3, FreqFactors };
  Type type = Type::None;
  float factor = 1.f, low_freq_factor = 1.f, high_freq_factor = 4.f;
  int original_max_pos = 8192;
  std::vector<float> freq_factors;  // FreqFactors: [head_dim / 2]
  bool operator==(const RopeScaling&) const = default;
};
const char* rope_scaling_name(RopeScaling::Type t);  // "none", "linear", "llama3", "freq_factors"

struct ModelConfig {
  int dim = 0;         // residual width D
  int hidden_dim = 0;  // SwiGLU width H
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (== n_heads for MHA, fewer for GQA)
  int vocab_size = 0;
  int max_seq_len = 0;  // longest context the model supports
  float rope_theta = 10000.f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = true;  // classifier shares the embedding matrix
  RopeLayout rope_layout = RopeLayout::Interleaved;
  int bos_id = 1, eos_id = 2;
  std::vector<int> extra_eos_ids;  // more ids that end generation (LLaMA-3.1-Instruct: <|eom_id|>, <|eot_id|>)
  bool is_eos(int id) const;
  RopeScaling rope_scaling;
  int head_size = 0;       // per-head width when it is not dim / n_heads (Hugging Face head_dim); 0 = dim / n_heads
  int sliding_window = 0;  // Mistral: each query sees its last `sliding_window` positions; 0 = all of them
  // max_seq_len is only the training context (GGUF's llama.context_length): longer contexts run, with a
  // warning, as llama.cpp runs them (RoPE extrapolates) instead of being refused.
  bool context_extendable = false;

  int head_dim() const { return head_size > 0 ? head_size : dim / n_heads; }
  int q_dim() const { return n_heads * head_dim(); }
  int kv_dim() const { return n_kv_heads * head_dim(); }
  // Throws duq::Error naming `source` when a field is missing, non-positive or inconsistent.
  void validate(const std::string& source) const;
  long long n_params() const;
  std::string summary() const;
};

}  // namespace duq::model
