// llama2.c model checkpoints (Karpathy's run.c format), read through a memory map.
//   legacy: 7 × int32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len}
//           (vocab_size < 0 means a separate classifier follows), then fp32 arrays:
//           tok_embeddings [V×D], rms_att [L×D], wq [L×Q×D], wk [L×K×D], wv [L×K×D], wo [L×D×Q],
//           rms_ffn [L×D], w1 [L×H×D], w2 [L×D×H], w3 [L×H×D], rms_final [D],
//           freq_cis_real/imag [S×hd/2] each (ignored), wcls [V×D] when not shared.
//   version 1: uint32 magic "ak42", int32 version = 1, the 7 int32, uint8 shared_classifier, zero pad to
//           256 bytes; then norms first (rms_att all layers, rms_ffn all layers, rms_final), tok_embeddings,
//           wq, wk, wv, wo, w1, w2, w3 (all layers each), wcls when not shared.
// All weight matrices are stored out×in (PyTorch layout), RoPE on interleaved pairs.
#pragma once
#include <cstdint>
#include <string>

#include "core/mapped_file.h"

namespace duq::formats {

struct Llama2cHeader {
  int version = 0;  // 0 = legacy
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;
};

// Offsets (in floats from the start of the weight data) of each array; matrices are per-layer stacked.
struct Llama2cLayout {
  uint64_t tok_embeddings, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls;
  uint64_t total_floats;  // floats the file must hold after the header
};

class Llama2cCheckpoint {
 public:
  // Throws duq::Error naming the file: missing, too short for the header, absurd header values,
  // truncated weights (expected vs actual byte size), unsupported version.
  explicit Llama2cCheckpoint(const std::string& path);
  const Llama2cHeader& header() const { return header_; }
  const Llama2cLayout& layout() const { return layout_; }
  // Pointer to float `offset` of the weight data (aligned reads are not guaranteed: copy, don't cast to SIMD).
  const float* floats(uint64_t offset) const;
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  Llama2cHeader header_;
  Llama2cLayout layout_{};
  uint64_t data_offset_ = 0;  // bytes
};

// True if the file starts like a llama2.c checkpoint (legacy header with plausible values or "ak42").
bool looks_like_llama2c(const std::string& path);

}  // namespace duq::formats
