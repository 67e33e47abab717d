// LLaMA-family model configuration (RMSNorm, SwiGLU, RoPE, MHA or GQA).
#pragma once
#include <string>

namespace duq::model {

// How RoPE pairs dimensions inside a head: llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face
// LLaMA rotates halves (i, i + hd/2). `duquant convert` permutes W_q/W_k rows so both give the same model.
enum class RopeLayout { Interleaved, RotateHalf };

struct ModelConfig {
  int dim = 0;          // residual width D
  int hidden_dim = 0;   // SwiGLU width H
  int n_layers = 0;
  int n_heads = 0;      // query heads
  int n_kv_heads = 0;   // key/value heads (== n_heads for MHA, fewer for GQA)
  int vocab_size = 0;
  int max_seq_len = 0;  // longest context the model supports
  float rope_theta = 10000.f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = true;  // classifier shares the embedding matrix
  RopeLayout rope_layout = RopeLayout::Interleaved;
  int bos_id = 1, eos_id = 2;

  int head_dim() const { return dim / n_heads; }
  int q_dim() const { return n_heads * head_dim(); }
  int kv_dim() const { return n_kv_heads * head_dim(); }
  // Throws duq::Error naming `source` when a field is missing, non-positive or inconsistent.
  void validate(const std::string& source) const;
  long long n_params() const;
  std::string summary() const;
};

}  // namespace duq::model
