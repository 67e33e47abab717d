// A quantized model as the integer engine runs it, and its file: GGUF v3 with the duquant.* metadata
// namespace (docs/quantized-format.md describes every key and tensor).
//
// Per block: folded RMSNorm weights (smoothing absorbed), the seven linear weights W·G⁻ᵀ packed for the
// integer kernels (kernels/int_gemm.h layout, 4-bit storage for ≤ 4-bit codes, 8-bit otherwise), and per
// linear input the online transform x ↦ x·G applied before per-token quantization:
//   none | DuQuant: x·Λ⁻¹ (only when not foldable) · R₁ · P₁ · R₂ … (R block-diagonal: a shared b×b R̂, or
//   one per block for the paper variant, plus a trailing-block rotation) | Hadamard: the randomized Hadamard of the
//   rotation baseline (rebuilt from its size and seed by transform::RandomizedHadamard — the model layer only stores
//   the seed).
// Q and K are multiplied by qk_rotation [hd×hd] (a normalised Hadamard; empty = none) and quantized per
// (head, token); V per (head, token). Final norm stays float32; the embedding table and the classifier are
// float32 in memory and stored as F32, F16 or Q8_0 (TableType below), widened to float32 on read.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/tensor.h"
#include "formats/gguf_value.h"
#include "kernels/int_gemm.h"
#include "model/config.h"
#include "model/forward.h"

namespace duq::model {

// 2: per-input activation clip, per-layer Q/K clip, duquant-auto's choices, F16/Q8_0 tables (1 still read).
// 3: QuaRot's randomized Hadamard diag(s)·H (signs before the mixing; H = A ⊗ H_p with Paley factors),
//    per-block rotations (`--variant paper`), RoPE scaling, head_dim ≠ dim/heads, sliding window, tokenizer.json
//    and GGUF-vocabulary tokenizers. A file is written with the lowest version that describes it (2 unless it
//    holds one of these), so older builds keep reading what they can run and refuse,
//    by version, what they would run wrongly; a Hadamard transform in a version < 3 file is refused (it was the
//    old H·diag(s) and cannot be rebuilt).
// 4: wide channels (--wide-channels: per-site wide channel lists and 8-bit weight columns).
// 5: key centers (--k-center: blk.L.attn_k.center, F32 [n_kv_heads·hd], on every layer). An older build would run
//    such a file without them: the same float attention, but K quantized off the grid the file was calibrated on.
inline constexpr uint32_t kQuantFormatVersion = 5;
inline constexpr uint32_t kQuantFormatVersionKeyCenter = 5;
inline constexpr uint32_t kQuantFormatVersionWide = 4;
inline constexpr uint32_t kQuantFormatVersionV3 = 3;
inline constexpr uint32_t kQuantFormatVersionBase = 2;
// Every file written carries XXH3 checksums of its tensors and header (formats/gguf_checksum.h), verified on
// load whatever the version; files written before them (no checksum keys) are still read.

// Storage type of the two V×D float tables (the GGUF tensor type records it; the reader accepts each for
// either table and widens to float32). Defaults: the embedding is a lookup table (one row read per token),
// so Q8_0 costs next to nothing; the classifier multiplies every hidden state and stays floating point (F16).
// Together they make a W4A4 TinyLlama-1.1B file ~6.3× smaller than its f32 checkpoint instead of 4.3×.
enum class TableType { F32, F16, Q8_0 };
inline constexpr TableType kDefaultEmbedType = TableType::Q8_0;
inline constexpr TableType kDefaultOutputType = TableType::F16;
const char* table_type_name(TableType t);  // "f32", "f16", "q8_0"
// Parses "f32" | "f16" | "q8_0"; throws duq::Error naming `flag` otherwise.
TableType parse_table_type(const std::string& s, const std::string& flag);

// How read_quant_model hands over the two tables. Widened: both as f32 Mats (what every consumer reads).
// AsStored (the integer engine): an untied model's Q8_0 embedding stays in its Q8_0 blocks and its F16
// classifier in halves (QuantModelData::embed_q8_0 / lm_head_f16, with embed / lm_head left empty), so loading
// never holds their f32 widening (on TinyLlama-1.1B 2 × 262 MB against 70 + 131 MB); widen_tables() turns such
// data into the Widened form. Tied tables and the other storage types are widened either way.
enum class TableLoad { Widened, AsStored };

struct BlockRotationData {
  int64_t block = 0;
  Mat full;                    // shared R̂ [b×b] (empty when per_block is set)
  std::vector<Mat> per_block;  // paper variant: R̂_k [b×b] for each of the ⌊D/b⌋ full blocks, else empty
  Mat tail;                    // [t×t], t = D mod b (empty when 0)
};

struct OnlineTransform {
  enum class Kind : uint32_t { None = 0, DuQuant = 1, Hadamard = 2 };
  Kind kind = Kind::None;
  std::vector<float> smooth;                 // online Λ (empty = none or folded)
  std::vector<BlockRotationData> rotations;  // DuQuant: R₁ … R_{rounds+1}
  std::vector<std::vector<int32_t>> perms;   // DuQuant: P₁ … P_rounds (x_new[:, j] = x[:, perm[j]])
  uint64_t hadamard_seed = 0;                // Hadamard: RandomizedHadamard(D, seed)
  float act_clip = 0.f;                      // this input's per-token activation clip; 0 = QuantSettings::lac
  std::string choice;                        // duquant-auto's choice ("none", "smooth", "rotation", "duquant")
  // --wide-channels (version 4): the channels of x·G, sorted, quantized at kernels::kWideBits apart from the
  // others (kernels::quantize_acts_split); each consumer's low-bit weights hold code = zero point there and its
  // QuantLayer::wide matrix [O×|wide|] the 8-bit columns. Empty = none.
  std::vector<int32_t> wide;
};

struct QuantLayer {
  Vec attn_norm, ffn_norm;
  std::array<OnlineTransform, kNumSites> sites;
  kernels::PackedWeights wq, wk, wv, wo, w_gate, w_up, w_down;
  std::array<std::vector<float>, 7> row_clip;  // duquant-auto: weight clip per output row, per linear (or empty)
  std::array<kernels::PackedWeights, 7>
      wide;  // per linear (wq … w_down): its input's wide columns, 8-bit (rows 0: none)
};

// The linear input (site) a linear reads, linears in QuantLayer order (wq, wk, wv, wo, w_gate, w_up, w_down).
constexpr Site site_of_linear(int linear) {
  return linear < 3 ? Site::AttnIn : linear == 3 ? Site::AttnOut : linear < 6 ? Site::FfnIn : Site::DownIn;
}

struct QuantSettings {
  std::string method;  // "duquant", "rtn", ...
  int wbits = 4, abits = 4, kv_bits = 4;
  float lac = 0.9f, qk_clip = 0.9f, swc = 0.8f;
  std::string description;           // the full settings line (calib::QuantOptions::describe)
  std::vector<float> qk_clip_layer;  // [n_layers] per-layer Q/K clip (duquant-auto), 0 = qk_clip; empty = none
  float qk_clip_at(int layer) const {
    const float c = static_cast<size_t>(layer) < qk_clip_layer.size() ? qk_clip_layer[static_cast<size_t>(layer)] : 0.f;
    return c > 0.f ? c : qk_clip;
  }
  // [n_layers][n_kv_heads·hd] key centers (--k-center): subtracted from K after RoPE, before the Q/K head
  // rotation and K's quantization; empty = none (calib::QuantOptions::k_center says why it is exact).
  std::vector<std::vector<float>> k_center;
};

struct QuantModelData {
  ModelConfig cfg;
  QuantSettings q;
  Mat embed;
  Vec final_norm;
  Mat lm_head;      // empty when tied
  Mat qk_rotation;  // [hd×hd] or empty
  // How embed and lm_head are (to be) stored. With tied embeddings the one table is also the classifier
  // and is stored at embed_type. Q8_0 needs dim to be a multiple of 32 (the writer refuses otherwise).
  TableType embed_type = kDefaultEmbedType;
  TableType lm_head_type = kDefaultOutputType;
  // TableLoad::AsStored only (else empty): the embedding's Q8_0 blocks [V rows × D/32 blocks × 34 bytes] in
  // place of `embed`, the classifier's halves [V×D] in place of `lm_head`.
  AlignedVector<uint8_t> embed_q8_0;
  AlignedVector<uint16_t> lm_head_f16;
  std::vector<QuantLayer> layers;
  // The tokenizer as it came, so the file needs nothing else: kind "llama2c" (tokenizer.bin), "sentencepiece"
  // (tokenizer.model) or "tokenizer.json" with the file's bytes; kind "gguf" with llama.cpp's tokenizer.ggml.*
  // keys (stored as such in the quantized file, where any GGUF tool finds them).
  std::string tokenizer_kind;
  std::string tokenizer_bytes;
  std::vector<std::pair<std::string, formats::GgufValue>> tokenizer_kv;
};

// The format version a file holding `m` is written with (2, or 3 when it needs a version-3 feature).
uint32_t quant_format_version_for(const QuantModelData& m);

// Writes atomically (temporary file, then rename). Throws duq::Error naming the path.
void write_quant_model(const std::string& path, const QuantModelData& m, Replace replace = Replace::IfRegular);
// Reads and validates everything (format version, every tensor's presence, type and size, transform
// shapes, permutations being bijections, packed sizes). Throws duq::Error naming the file and the tensor.
QuantModelData read_quant_model(const std::string& path, TableLoad tables = TableLoad::Widened);
// Widens tables held as stored (TableLoad::AsStored) into embed / lm_head; a no-op on widened data.
void widen_tables(QuantModelData& m);

}  // namespace duq::model
