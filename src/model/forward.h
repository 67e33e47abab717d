// The float32 LLaMA forward pass. Shape legend (per block):
//   x      [T×D]   residual stream, one row per token (positions pos0 … pos0+T−1)
//   xn     [T×D]   RMSNorm(x)                          → site AttnIn  → q [T×Q], k [T×K], v [T×K]
//   att    [T×Q]   softmax(q·kᵀ/√hd, causal)·v per head → site AttnOut → wo → x += [T×D]
//   xn     [T×D]   RMSNorm(x)                          → site FfnIn   → gate, up [T×H]
//   act    [T×H]   silu(gate) ⊙ up                      → site DownIn  → w_down → x += [T×D]
// Q = n_heads·hd, K = n_kv_heads·hd; query head h reads KV head h / (n_heads / n_kv_heads) (GQA).
// Hooks see (and may rewrite in place) the input of every linear layer and q/k/v after RoPE: simulated
// quantization transforms and fake-quantizes through them; calibration statistics only look (ForwardObserver).
// A calibration forward may end early, after the hooks of one point (BlockPoint).
#pragma once
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kernels/nn_ops.h"
#include "model/config.h"
#include "model/weights.h"

namespace duq::model {

enum class Site { AttnIn = 0, AttnOut = 1, FfnIn = 2, DownIn = 3 };
constexpr int kNumSites = 4;
const char* site_name(Site s);

class ForwardHooks {
 public:
  virtual ~ForwardHooks() = default;
  virtual void linear_input(int layer, Site site, MatView x) {}
  virtual void qk(int layer, MatView q, MatView k) {}  // after RoPE, before scores and the cache
  virtual void v(int layer, MatView v) {}              // before the cache
};

// Hooks that only look (calibration statistics): the same points with const views, so an observer cannot
// change the forward it watches. ObserveOnly runs one as ForwardHooks.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  virtual void linear_input(int layer, Site site, ConstMatView x) {}
  virtual void qk(int layer, ConstMatView q, ConstMatView k) {}
  virtual void v(int layer, ConstMatView v) {}
};
class ObserveOnly final : public ForwardHooks {
 public:
  explicit ObserveOnly(ForwardObserver& o) : o_(o) {}
  void linear_input(int layer, Site site, MatView x) override { o_.linear_input(layer, site, x); }
  void qk(int layer, MatView q, MatView k) override { o_.qk(layer, q, k); }
  void v(int layer, MatView v) override { o_.v(layer, v); }

 private:
  ForwardObserver& o_;
};

// The points of a block's forward where hooks run, in order (Qk: the qk hook, before the v hook). A forward
// given an end point returns right after the hooks there: a calibration forward that needs only one site's
// input (GPTQ's Hessian, duquant-auto's rows and Q/K clip) does not run the rest of the block. x is then the
// residual stream as it was at that point, not the block's output.
enum class BlockPoint { AttnIn, Qk, AttnOut, FfnIn, DownIn, Output };
constexpr BlockPoint point_of(Site s) {
  constexpr BlockPoint p[kNumSites] = {BlockPoint::AttnIn, BlockPoint::AttnOut, BlockPoint::FfnIn, BlockPoint::DownIn};
  return p[static_cast<int>(s)];
}

// Engine-specific state kept with one sequence's cache (e.g. the integer engine's quantized K/V).
struct KVCacheExtension {
  virtual ~KVCacheExtension() = default;
};

// Per-call temporaries of block_forward, kept with the sequence so repeated calls allocate nothing.
struct BlockWorkspace {
  AlignedVector<float> xn, q, k, v, att, y, gate, up, scores;
};

// Keys and values of every layer for positions 0 … capacity−1: k[l], v[l] are [capacity × K], allocated
// by the float attention on first use (an engine with its own cache keeps it in `ext` instead).
struct KVCache {
  KVCache(const ModelConfig& c, int capacity);
  int capacity;
  std::vector<Mat> k, v;
  std::unique_ptr<KVCacheExtension> ext;
  std::unique_ptr<BlockWorkspace> work;
  void allocate_float();  // k, v as above (no-op when present)

 private:
  int layers_ = 0, kv_dim_ = 0;
};

// Attention of one block over the sequence's cache: q [T×Q], k, v [T×K] after RoPE and the hooks, for
// positions pos0 … pos0+T−1; stores k/v in `cache` and writes att [T×Q] = softmax(q·kᵀ/√hd, causal)·v.
// Model runs the float attention over cache.k/v unless an engine sets its own (Model::set_attention).
// forward_batch calls attend for different sequences (caches) on several threads at once: an implementation
// keeps its per-call state in `cache` (KVCache::ext), never in itself.
class BlockAttention {
 public:
  virtual ~BlockAttention() = default;
  virtual void attend(int layer, MatView q, MatView k, MatView v, int pos0, KVCache& cache, MatView att) const = 0;
};

// Causal softmax of attention scores [rows × keys], keys at positions 0 … keys−1: row t is the query at
// position pos0 + t·pos_step (pos_step 0: every row at pos0, e.g. a decode step's heads, with exactly
// pos0 + 1 keys) and sees keys
// max(0, p − window + 1) … p (window = c.sliding_window; 0 = all keys up to p). Others get probability 0.
void attention_softmax(const ModelConfig& c, MatView scores, int64_t pos0, int64_t pos_step, float scale);

// The float attention (per query head: scores by sgemm, causal softmax, ·V) over k_cache/v_cache [cap × K],
// after storing k/v at rows pos0…; `scores` is scratch (grown as needed).
void float_attention(const ModelConfig& c, ConstMatView q, ConstMatView k, ConstMatView v, int pos0, Mat& k_cache,
                     Mat& v_cache, MatView att, AlignedVector<float>& scores);

// The linear layers of one block. The float engine multiplies by LayerWeights; a quantized engine
// substitutes its own (integer kernels) without touching the attention or norms.
class BlockLinears {
 public:
  virtual ~BlockLinears() = default;
  // y = x·Wᵀ for the weights consuming `site`: AttnIn → q, k, v; AttnOut → o; FfnIn → gate, up; DownIn → down.
  virtual void attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const = 0;
  virtual void attn_out(ConstMatView att, MatView y) const = 0;
  virtual void ffn_in(ConstMatView xn, MatView gate, MatView up) const = 0;
  virtual void down(ConstMatView act, MatView y) const = 0;
  // True when every output row is a function of its input row alone, bit for bit, whatever the number of
  // rows in the call (the integer engine: per-token quantization and exact int32 GEMMs). Model::forward_batch
  // calls such linears once on all rows; others in fixed blocks of kBatchRowBlock rows. FloatLinears is
  // row_exact only with its row-invariant kernel.
  virtual bool row_exact() const { return false; }
};

// BlockLinears over float weights: BLAS sgemm, or with row_invariant kernels::matmul_xwt_rows, whose output
// rows do not depend on the other rows (row_exact; Model::forward_batch).
class FloatLinears : public BlockLinears {
 public:
  explicit FloatLinears(const LayerWeights& w, bool row_invariant = false) : w_(w), row_invariant_(row_invariant) {}
  void attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const override;
  void attn_out(ConstMatView att, MatView y) const override;
  void ffn_in(ConstMatView xn, MatView gate, MatView up) const override;
  void down(ConstMatView act, MatView y) const override;
  bool row_exact() const override { return row_invariant_; }

 private:
  void mul(ConstMatView x, ConstMatView w, MatView y) const;
  const LayerWeights& w_;
  bool row_invariant_;
};

// Runs decoder block `layer` on x [T×D] in place; writes k/v rows pos0… into the cache matrices
// ([capacity × K]) and attends over 0 … pos0+T−1. With an `end` before Output it stops after the hooks there.
void block_forward(const ModelConfig& c, int layer, std::span<const float> attn_norm, std::span<const float> ffn_norm,
                   const BlockLinears& lin, MatView x, int pos0, Mat& k_cache, Mat& v_cache,
                   const kernels::RopeTable& rope, ForwardHooks* hooks, BlockPoint end = BlockPoint::Output);
// The same with the attention (cache write + attention) supplied by the caller and temporaries in `work`.
using AttendFn = std::function<void(MatView q, MatView k, MatView v, MatView att)>;
void block_forward(const ModelConfig& c, int layer, std::span<const float> attn_norm, std::span<const float> ffn_norm,
                   const BlockLinears& lin, MatView x, int pos0, const kernels::RopeTable& rope, ForwardHooks* hooks,
                   const AttendFn& attend, BlockWorkspace& work, BlockPoint end = BlockPoint::Output);

// One sequence's next chunk for Model::forward_batch: tokens at positions pos0 … pos0+T−1 of `cache` (the
// sequence's own KV cache, holding positions 0 … pos0−1). all_logits: the logits of every token of the chunk
// (T rows; loglikelihood scoring), else of its last token only (1 row; generation).
struct SeqChunk {
  std::span<const int> tokens;
  int pos0 = 0;
  KVCache* cache = nullptr;
  bool all_logits = false;
};

// Row block of Model::forward_batch's linears that are not row_exact: every call has this many rows (the last
// block zero-padded), so a row's float result never depends on which other rows share the batch.
constexpr int64_t kBatchRowBlock = 16;

class Model {
 public:
  Model(const ModelConfig& c, ModelWeights w);
  // Loads a llama2.c checkpoint or Hugging Face directory fully into memory.
  static Model load(const std::string& path);

  const ModelConfig& config() const { return cfg_; }
  ModelWeights& weights() { return w_; }
  const ModelWeights& weights() const { return w_; }
  const kernels::RopeTable& rope() const { return rope_; }
  // Runs contexts up to n tokens (RoPE table rebuilt): for configs whose max_seq_len is only the training
  // context (ModelConfig::context_extendable).
  void set_max_seq_len(int n);

  // x [T×D]: embedding rows of the tokens (ids checked against the vocabulary).
  Mat embed(std::span<const int> tokens) const;
  // logits [T×V] = classifier(RMSNorm(x)) for the rows of x [T×D].
  Mat logits(ConstMatView x) const;
  // Full forward of tokens at positions pos0…; returns logits [T×V] (or only the last row if last_only).
  Mat forward(std::span<const int> tokens, int pos0, KVCache& cache, ForwardHooks* hooks = nullptr,
              bool last_only = false) const;
  // Several sequences in one pass (continuous batching; model/batch_forward.cc): the chunks' rows go through
  // the linear layers together (the integer GEMM with M = all rows), while attention, RoPE and the hooks run
  // per chunk exactly as for that chunk alone. Returns the logits of each chunk's last token (or of all its
  // tokens when chunk.all_logits), stacked in chunk order: [Σ rows × V].
  // A chunk's logits are bit-identical whatever other chunks share the call (see kBatchRowBlock).
  Mat forward_batch(std::span<const SeqChunk> chunks, ForwardHooks* hooks = nullptr) const;

  // Replaces the linear layers of block l (quantized engines); nullptr restores the float weights.
  void set_block_linears(int l, std::shared_ptr<const BlockLinears> lin);
  // Replaces the attention of every block (quantized KV caches); nullptr restores the float attention.
  void set_attention(std::shared_ptr<const BlockAttention> att) { attention_ = std::move(att); }
  // One-row logits (decode) by sgemv, which streams the classifier once, instead of sgemm (OpenBLAS 0.3.21
  // packs the whole [V×D] classifier even for M = 1: ~2.3× slower). Off by default, so the float engine's
  // logits stay bit-identical to what they were; the integer engine turns it on.
  void set_gemv_logits(bool on) { gemv_logits_ = on; }
  // The classifier [V×D] kept as IEEE halves (a quantized file's F16 table; untied models only): every logits
  // path then reads the halves in place, each widened exactly, so the logits are bit-identical to those of the
  // f32 classifier they widen to, while a decoded token streams half the bytes and the table takes half the
  // memory. weights().lm_head is released.
  void set_half_classifier(AlignedVector<uint16_t> w);
  // The embedding table [V×D] kept as Q8_0 blocks (a quantized file's default storage; untied models only, D a
  // multiple of 32): embed() decodes the rows it needs, exactly as the file reader widens them, so every result
  // is bit-identical while the table takes 34 of 128 bytes per 32 values. weights().embed is released.
  void set_q8_0_embedding(AlignedVector<uint8_t> blocks);

 private:
  ModelConfig cfg_;
  ModelWeights w_;
  kernels::RopeTable rope_;
  std::vector<std::shared_ptr<const BlockLinears>> linears_;
  std::shared_ptr<const BlockAttention> attention_;
  bool gemv_logits_ = false;
  AlignedVector<uint16_t> half_classifier_;  // [V×D] when set_half_classifier was called, else empty
  AlignedVector<uint8_t> q8_0_embedding_;    // [V × D/32 blocks] when set_q8_0_embedding was called, else empty
  size_t q8_0_row_bytes() const;             // one embedding row in Q8_0 blocks
  // out [R×V] = xn · classifierᵀ by the row-invariant kernel (forward_batch's fixed summation order)
  void classifier_rows(ConstMatView xn, MatView out) const;
};

}  // namespace duq::model
