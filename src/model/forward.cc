#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/threads.h"
#include "formats/q8_0.h"
#include "kernels/gemm_f32.h"
#include "model/rope_freq.h"

namespace duq::model {

using kernels::matmul;
using kernels::matmul_xwt;

const char* site_name(Site s) {
  switch (s) {
    case Site::AttnIn: return "attn_in";
    case Site::AttnOut: return "attn_out";
    case Site::FfnIn: return "ffn_in";
    case Site::DownIn: return "down_in";
  }
  return "?";
}

KVCache::KVCache(const ModelConfig& c, int cap) : capacity(cap), layers_(c.n_layers), kv_dim_(c.kv_dim()) {}

void KVCache::allocate_float() {
  if (!k.empty()) return;
  for (int l = 0; l < layers_; ++l) {
    k.emplace_back(capacity, kv_dim_);
    v.emplace_back(capacity, kv_dim_);
  }
}

namespace {
// A [rows × cols] view over buf, grown (never shrunk) as needed; contents are whatever was there.
MatView scratch(AlignedVector<float>& buf, int64_t rows, int64_t cols) {
  const size_t n = static_cast<size_t>(rows * cols);
  if (buf.size() < n) buf.resize(n);
  return MatView(buf.data(), rows, cols);
}
}  // namespace

void FloatLinears::mul(ConstMatView x, ConstMatView w, MatView y) const {
  if (row_invariant_) kernels::matmul_xwt_rows(x, w, y);
  else matmul_xwt(x, w, y);
}
void FloatLinears::attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const {
  mul(xn, w_.wq, q);
  mul(xn, w_.wk, k);
  mul(xn, w_.wv, v);
}
void FloatLinears::attn_out(ConstMatView att, MatView y) const { mul(att, w_.wo, y); }
void FloatLinears::ffn_in(ConstMatView xn, MatView gate, MatView up) const {
  mul(xn, w_.w_gate, gate);
  mul(xn, w_.w_up, up);
}
void FloatLinears::down(ConstMatView act, MatView y) const { mul(act, w_.w_down, y); }

void attention_softmax(const ModelConfig& c, MatView scores, int64_t pos0, int64_t pos_step, float scale) {
  const int64_t W = c.sliding_window, last = pos0 + (scores.rows - 1) * pos_step;
  DUQ_CHECK(scores.cols >= last + 1, "attention_softmax: fewer keys than positions");
  if (W <= 0 || last < W) {  // no row reaches beyond the window: the plain causal softmax
    kernels::softmax_rows(scores, pos0 + 1, /*causal_offset=*/pos_step != 0, scale);
    return;
  }
  for (int64_t t = 0; t < scores.rows; ++t) {
    const int64_t p = pos0 + t * pos_step, lo = std::max<int64_t>(0, p - W + 1), hi = std::min(scores.cols, p + 1);
    float* r = scores.row(t);
    kernels::softmax({r + lo, static_cast<size_t>(hi - lo)}, scale);
    std::fill(r, r + lo, 0.f);
    std::fill(r + hi, r + scores.cols, 0.f);
  }
}

void float_attention(const ModelConfig& c, ConstMatView q, ConstMatView k, ConstMatView v, int pos0, Mat& k_cache,
                     Mat& v_cache, MatView att, AlignedVector<float>& scores_buf) {
  const int64_t T = q.rows, hd = c.head_dim(), K = c.kv_dim();
  const int64_t n_ctx = pos0 + T;
  DUQ_CHECK(n_ctx <= k_cache.rows(), "block_forward: context beyond the KV cache");
  for (int64_t t = 0; t < T; ++t) {
    std::memcpy(k_cache.row(pos0 + t), k.row(t), sizeof(float) * static_cast<size_t>(K));
    std::memcpy(v_cache.row(pos0 + t), v.row(t), sizeof(float) * static_cast<size_t>(K));
  }
  const int group = c.n_heads / c.n_kv_heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  // Heads split over the threads (each writes its own columns of att, with its own scores tile; BLAS runs
  // single-threaded inside, so every head's products are the same calls on any thread count). Queries in
  // chunks of 64 rows: chunk [t0, t1) only sees keys 0 … pos0+t1−1, so the masked upper triangle is neither
  // multiplied nor exponentiated (half the attention work of a long prefill).
  constexpr int64_t kChunk = 64;
  auto heads = [&](int64_t h0, int64_t h1, AlignedVector<float>& buf) {
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t kvh = h / group;
      for (int64_t t0 = 0; t0 < T; t0 += kChunk) {
        const int64_t n = std::min(kChunk, T - t0), keys = pos0 + t0 + n;
        MatView scores = scratch(buf, n, keys);
        ConstMatView qh = q.rows_slice(t0, n).cols_slice(h * hd, hd);
        ConstMatView kh = k_cache.view().rows_slice(0, keys).cols_slice(kvh * hd, hd);
        ConstMatView vh = v_cache.view().rows_slice(0, keys).cols_slice(kvh * hd, hd);
        matmul_xwt(qh, kh, scores);
        attention_softmax(c, scores, pos0 + t0, 1, scale);
        matmul(scores, vh, att.rows_slice(t0, n).cols_slice(h * hd, hd));
      }
    }
  };
  // ~n_heads·T·n_ctx·hd multiply-adds; below ~1M a fork costs more than it saves
  if (num_threads() < 2 || int64_t{c.n_heads} * T * n_ctx * hd < (int64_t{1} << 20)) {
    heads(0, c.n_heads, scores_buf);
    return;
  }
  parallel_ranges(c.n_heads, [&](int64_t h0, int64_t h1) {
    thread_local AlignedVector<float> buf;
    heads(h0, h1, buf);
  });
}

void block_forward(const ModelConfig& c, int layer, std::span<const float> attn_norm, std::span<const float> ffn_norm,
                   const BlockLinears& lin, MatView x, int pos0, Mat& k_cache, Mat& v_cache,
                   const kernels::RopeTable& rope, ForwardHooks* hooks, BlockPoint end) {
  BlockWorkspace work;
  block_forward(
      c, layer, attn_norm, ffn_norm, lin, x, pos0, rope, hooks,
      [&](MatView q, MatView k, MatView v, MatView att) {
        float_attention(c, q, k, v, pos0, k_cache, v_cache, att, work.scores);
      },
      work, end);
}

void block_forward(const ModelConfig& c, int layer, std::span<const float> attn_norm, std::span<const float> ffn_norm,
                   const BlockLinears& lin, MatView x, int pos0, const kernels::RopeTable& rope, ForwardHooks* hooks,
                   const AttendFn& attend, BlockWorkspace& work, BlockPoint end) {
  const int64_t T = x.rows, D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim;
  DUQ_CHECK(x.cols == D);
  const bool interleaved = c.rope_layout == RopeLayout::Interleaved;

  // --- attention ---
  MatView xn = scratch(work.xn, T, D), q = scratch(work.q, T, Q), k = scratch(work.k, T, K), v = scratch(work.v, T, K),
          att = scratch(work.att, T, Q), y = scratch(work.y, T, D);
  kernels::rmsnorm(x, attn_norm, c.rms_eps, xn);
  if (hooks) hooks->linear_input(layer, Site::AttnIn, xn);
  if (end == BlockPoint::AttnIn) return;
  lin.attn_in(xn, q, k, v);
  kernels::rope(q, c.n_heads, pos0, rope, interleaved);
  kernels::rope(k, c.n_kv_heads, pos0, rope, interleaved);
  if (hooks) hooks->qk(layer, q, k);
  if (end == BlockPoint::Qk) return;
  if (hooks) hooks->v(layer, v);
  attend(q, k, v, att);
  if (hooks) hooks->linear_input(layer, Site::AttnOut, att);
  if (end == BlockPoint::AttnOut) return;
  lin.attn_out(att, y);
  kernels::add_rows(x, y);

  // --- feed-forward (SwiGLU) ---
  kernels::rmsnorm(x, ffn_norm, c.rms_eps, xn);
  if (hooks) hooks->linear_input(layer, Site::FfnIn, xn);
  if (end == BlockPoint::FfnIn) return;
  MatView gate = scratch(work.gate, T, H), up = scratch(work.up, T, H);
  lin.ffn_in(xn, gate, up);
  kernels::swiglu(gate, up, gate);
  if (hooks) hooks->linear_input(layer, Site::DownIn, gate);
  if (end == BlockPoint::DownIn) return;
  lin.down(gate, y);
  kernels::add_rows(x, y);
}

Model::Model(const ModelConfig& c, ModelWeights w)
    : cfg_(c), w_(std::move(w)), rope_(rope_table(c, c.max_seq_len)), linears_(c.n_layers) {
  DUQ_CHECK(static_cast<int>(w_.layers.size()) == c.n_layers);
}

void Model::set_max_seq_len(int n) {
  if (n <= 0) fail("context length ", n, " must be positive");
  cfg_.max_seq_len = n;
  rope_ = rope_table(cfg_, n);
}

Model Model::load(const std::string& path) {
  auto src = open_weights(path);
  return Model(src->config(), src->load_all());
}

Mat Model::embed(std::span<const int> tokens) const {
  Mat x(static_cast<int64_t>(tokens.size()), cfg_.dim);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int id = tokens[t];
    if (id < 0 || id >= cfg_.vocab_size)
      fail("token id ", id, " at position ", t, " is outside the model's vocabulary (", cfg_.vocab_size, ")");
    if (q8_0_embedding_.empty())
      std::memcpy(x.row(static_cast<int64_t>(t)), w_.embed.row(id), sizeof(float) * static_cast<size_t>(cfg_.dim));
    else
      formats::q8_0_decode(q8_0_embedding_.data() + static_cast<size_t>(id) * q8_0_row_bytes(),
                           static_cast<size_t>(cfg_.dim), x.row(static_cast<int64_t>(t)));
  }
  return x;
}

size_t Model::q8_0_row_bytes() const {
  return static_cast<size_t>(cfg_.dim) / formats::kQ8_0Block * formats::kQ8_0BlockBytes;
}

void Model::set_q8_0_embedding(AlignedVector<uint8_t> blocks) {
  DUQ_CHECK(!cfg_.tied_embeddings, "set_q8_0_embedding: a tied embedding is the classifier too");
  DUQ_CHECK(cfg_.dim % static_cast<int>(formats::kQ8_0Block) == 0, "set_q8_0_embedding: dim not a multiple of 32");
  DUQ_CHECK(blocks.size() == static_cast<size_t>(cfg_.vocab_size) * q8_0_row_bytes(), "set_q8_0_embedding: shape");
  q8_0_embedding_ = std::move(blocks);
  w_.embed = Mat();
}

Mat Model::logits(ConstMatView x) const {
  Mat xn(x.rows, cfg_.dim), out(x.rows, cfg_.vocab_size);
  kernels::rmsnorm(x, w_.final_norm, cfg_.rms_eps, xn);
  if (!half_classifier_.empty()) {
    if (x.rows == 1) {
      classifier_rows(xn, out);  // one row: streams the halves once
      return out;
    }
    // Many rows (perplexity): the same BLAS product as on the f32 table, one panel of widened rows at a time
    // (a column split of the product, which leaves every output's sum unchanged).
    constexpr int64_t kPanel = 2048;
    Mat panel(std::min<int64_t>(kPanel, cfg_.vocab_size), cfg_.dim);
    for (int64_t c0 = 0; c0 < cfg_.vocab_size; c0 += kPanel) {
      const int64_t n = std::min(kPanel, cfg_.vocab_size - c0);
      const uint16_t* src = half_classifier_.data() + c0 * cfg_.dim;
      for (int64_t i = 0; i < n * cfg_.dim; ++i) panel.data()[i] = f16_to_f32(src[i]);
      matmul_xwt(xn, panel.view().rows_slice(0, n), MatView(out.data() + c0, x.rows, n, out.cols()));
    }
    return out;
  }
  const Mat& cls = w_.classifier();
  if (gemv_logits_ && x.rows == 1) kernels::matvec(cls, xn.data(), out.data());
  else matmul_xwt(xn, cls, out);
  return out;
}

void Model::classifier_rows(ConstMatView xn, MatView out) const {
  if (half_classifier_.empty()) kernels::matmul_xwt_rows(xn, w_.classifier(), out);
  else kernels::matmul_xwt_rows_f16(xn, half_classifier_.data(), cfg_.vocab_size, cfg_.dim, out);
}

void Model::set_half_classifier(AlignedVector<uint16_t> w) {
  DUQ_CHECK(!cfg_.tied_embeddings, "set_half_classifier: a tied classifier is the embedding table");
  DUQ_CHECK(static_cast<int64_t>(w.size()) == int64_t{cfg_.vocab_size} * cfg_.dim, "set_half_classifier: shape");
  half_classifier_ = std::move(w);
  w_.lm_head = Mat();
}

Mat Model::forward(std::span<const int> tokens, int pos0, KVCache& cache, ForwardHooks* hooks, bool last_only) const {
  const int T = static_cast<int>(tokens.size());
  if (pos0 + T > cache.capacity || pos0 + T > cfg_.max_seq_len)
    fail("context of ", pos0 + T, " tokens exceeds the model's maximum of ",
         std::min(cache.capacity, cfg_.max_seq_len));
  Mat x = embed(tokens);
  if (!cache.work) cache.work = std::make_unique<BlockWorkspace>();
  if (!attention_) cache.allocate_float();
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const auto& lw = w_.layers[static_cast<size_t>(l)];
    FloatLinears flin(lw);
    const BlockLinears& lin = linears_[static_cast<size_t>(l)] ? *linears_[static_cast<size_t>(l)] : flin;
    auto attend = [&](MatView q, MatView k, MatView v, MatView att) {
      if (attention_) attention_->attend(l, q, k, v, pos0, cache, att);
      else
        float_attention(cfg_, q, k, v, pos0, cache.k[static_cast<size_t>(l)], cache.v[static_cast<size_t>(l)], att,
                        cache.work->scores);
    };
    block_forward(cfg_, l, lw.attn_norm, lw.ffn_norm, lin, x, pos0, rope_, hooks, attend, *cache.work);
  }
  if (last_only) return logits(x.view().rows_slice(T - 1, 1));
  return logits(x);
}

void Model::set_block_linears(int l, std::shared_ptr<const BlockLinears> lin) {
  linears_.at(static_cast<size_t>(l)) = std::move(lin);
}

}  // namespace duq::model
