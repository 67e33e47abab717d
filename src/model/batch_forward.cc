// Model::forward_batch: the forward pass of several sequences' chunks in one call (continuous batching).
//
// Rows: the chunks' tokens stacked, x [R×D], R = Σ T_i; chunk i owns rows [off_i, off_i + T_i).
// Per block:
//   RMSNorm, SwiGLU, residual adds    row-wise kernels: one row's arithmetic never sees another row
//   linears                           row_exact() (integer engine: int GEMM; float weights: the row-invariant
//                                     kernels::matmul_xwt_rows): one call on all R rows, M = R; else (the
//                                     integer engine's generic sites) fixed blocks of kBatchRowBlock rows
//                                     (zero-padded), so a row's sums do not depend on the batch
//   RoPE, hooks, attention            per chunk, the same calls with the same shapes as the chunk alone
//                                     (attention of small chunks on several threads at once, one chunk each)
// Logits: the last row of every chunk (all rows of an all_logits chunk), RMSNorm, classifier by
// kernels::matmul_xwt_rows.
#include <cstring>

#include "core/error.h"
#include "core/stage_clock.h"
#include "core/threads.h"
#include "kernels/gemm_f32.h"
#include "model/forward.h"

namespace duq::model {

namespace {

using stage_clock::Scope;
using stage_clock::Stage;

MatView grow(AlignedVector<float>& buf, int64_t rows, int64_t cols) {
  const size_t n = static_cast<size_t>(rows * cols);
  if (buf.size() < n) buf.resize(n);
  return MatView(buf.data(), rows, cols);
}

// Applies f(in, outs) to x [R×·] → outs [R×·]: once on all rows when `exact`, else on blocks of
// kBatchRowBlock rows copied into zero-padded scratch (every call the same shape; rows copied in and out,
// so alignment and strides are the same too).
void in_row_blocks(bool exact, ConstMatView x, std::initializer_list<MatView> outs,
                   const std::function<void(ConstMatView, std::span<MatView>)>& f) {
  std::vector<MatView> o(outs);
  const Scope timed(Stage::kLinear);
  if (exact) {
    f(x, o);
    return;
  }
  constexpr int64_t B = kBatchRowBlock;
  AlignedVector<float> in_buf;
  std::vector<AlignedVector<float>> out_bufs(o.size());
  for (int64_t r0 = 0; r0 < x.rows; r0 += B) {
    const int64_t n = std::min(B, x.rows - r0);
    MatView in = grow(in_buf, B, x.cols);
    std::fill(in.data, in.data + B * x.cols, 0.f);
    for (int64_t i = 0; i < n; ++i) std::memcpy(in.row(i), x.row(r0 + i), sizeof(float) * static_cast<size_t>(x.cols));
    std::vector<MatView> bo;
    for (size_t j = 0; j < o.size(); ++j) bo.push_back(grow(out_bufs[j], B, o[j].cols));
    f(in, bo);
    for (size_t j = 0; j < o.size(); ++j)
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(o[j].row(r0 + i), bo[j].row(i), sizeof(float) * static_cast<size_t>(o[j].cols));
  }
}

}  // namespace

Mat Model::forward_batch(std::span<const SeqChunk> chunks, ForwardHooks* hooks) const {
  const ModelConfig& c = cfg_;
  std::vector<int> tokens;
  std::vector<int64_t> off;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SeqChunk& ch = chunks[i];
    DUQ_CHECK(ch.cache && !ch.tokens.empty(), "forward_batch: a chunk without tokens or cache");
    for (size_t j = 0; j < i; ++j) DUQ_CHECK(chunks[j].cache != ch.cache, "forward_batch: two chunks share a cache");
    const int end = ch.pos0 + static_cast<int>(ch.tokens.size());
    if (end > ch.cache->capacity || end > c.max_seq_len)
      fail("context of ", end, " tokens exceeds the model's maximum of ", std::min(ch.cache->capacity, c.max_seq_len));
    off.push_back(static_cast<int64_t>(tokens.size()));
    tokens.insert(tokens.end(), ch.tokens.begin(), ch.tokens.end());
    if (!ch.cache->work) ch.cache->work = std::make_unique<BlockWorkspace>();
    if (!attention_) ch.cache->allocate_float();
  }
  const int64_t n_chunks = static_cast<int64_t>(chunks.size());
  if (n_chunks == 0) return Mat(0, c.vocab_size);
  off.push_back(static_cast<int64_t>(tokens.size()));
  auto rows_of = [&](MatView m, size_t i) { return m.rows_slice(off[i], off[i + 1] - off[i]); };

  const int64_t R = static_cast<int64_t>(tokens.size()), D = c.dim, Q = c.q_dim(), K = c.kv_dim(), H = c.hidden_dim;
  const bool interleaved = c.rope_layout == RopeLayout::Interleaved;
  Mat x = [&] {
    const Scope timed(Stage::kEmbed);
    return embed(tokens);
  }();
  Mat xn(R, D), q(R, Q), k(R, K), v(R, K), att(R, Q), y(R, D), gate(R, H), up(R, H);
  // Attention work of a chunk ~ T·n_ctx; chunks below kSmallAttention go in parallel with each other.
  constexpr int64_t kSmallAttention = int64_t{1} << 14;
  std::vector<size_t> small, large;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const int64_t T = off[i + 1] - off[i];
    (T * (chunks[i].pos0 + T) < kSmallAttention ? small : large).push_back(i);
  }
  auto hook_rows = [&](int l, Site s, MatView m) {
    if (hooks)
      for (size_t i = 0; i < chunks.size(); ++i) hooks->linear_input(l, s, rows_of(m, i));
  };

  for (int l = 0; l < c.n_layers; ++l) {
    const auto& lw = w_.layers[static_cast<size_t>(l)];
    FloatLinears flin(lw, /*row_invariant=*/true);
    const BlockLinears& lin = linears_[static_cast<size_t>(l)] ? *linears_[static_cast<size_t>(l)] : flin;
    const bool exact = lin.row_exact();

    // --- attention ---
    {
      const Scope timed(Stage::kNorm);
      kernels::rmsnorm(x, lw.attn_norm, c.rms_eps, xn);
    }
    hook_rows(l, Site::AttnIn, xn);
    in_row_blocks(exact, xn, {q, k, v},
                  [&](ConstMatView in, std::span<MatView> o) { lin.attn_in(in, o[0], o[1], o[2]); });
    for (size_t i = 0; i < chunks.size(); ++i) {
      const SeqChunk& ch = chunks[i];
      MatView qi = rows_of(q, i), ki = rows_of(k, i), vi = rows_of(v, i);
      {
        const Scope timed(Stage::kRope);
        kernels::rope(qi, c.n_heads, ch.pos0, rope_, interleaved);
        kernels::rope(ki, c.n_kv_heads, ch.pos0, rope_, interleaved);
      }
      if (hooks) {  // hooks keep scratch of their own: one chunk at a time
        const Scope timed(Stage::kQkQuant);
        hooks->qk(l, qi, ki);
        hooks->v(l, vi);
      }
    }
    auto attend = [&](size_t i) {
      const SeqChunk& ch = chunks[i];
      MatView qi = rows_of(q, i), ki = rows_of(k, i), vi = rows_of(v, i), ai = rows_of(att, i);
      if (attention_) attention_->attend(l, qi, ki, vi, ch.pos0, *ch.cache, ai);
      else
        float_attention(c, qi, ki, vi, ch.pos0, ch.cache->k[static_cast<size_t>(l)],
                        ch.cache->v[static_cast<size_t>(l)], ai, ch.cache->work->scores);
    };
    // Small chunks (decode steps) are too little work to split inside (heads), so they run side by side, one
    // chunk per call on any thread (each call has its own cache and scratch: the same bits as alone); large
    // chunks (prefill) one after another, each split over the threads inside.
    {
      const Scope timed(Stage::kAttention);
      for (size_t i : large) attend(i);
      parallel_for(static_cast<int64_t>(small.size()), [&](int64_t j) { attend(small[static_cast<size_t>(j)]); });
    }
    hook_rows(l, Site::AttnOut, att);
    in_row_blocks(exact, att, {y}, [&](ConstMatView in, std::span<MatView> o) { lin.attn_out(in, o[0]); });
    {
      const Scope timed(Stage::kElementwise);
      kernels::add_rows(x, y);
    }

    // --- feed-forward (SwiGLU) ---
    {
      const Scope timed(Stage::kNorm);
      kernels::rmsnorm(x, lw.ffn_norm, c.rms_eps, xn);
    }
    hook_rows(l, Site::FfnIn, xn);
    in_row_blocks(exact, xn, {gate, up}, [&](ConstMatView in, std::span<MatView> o) { lin.ffn_in(in, o[0], o[1]); });
    {
      const Scope timed(Stage::kElementwise);
      kernels::swiglu(gate, up, gate);
    }
    hook_rows(l, Site::DownIn, gate);
    in_row_blocks(exact, gate, {y}, [&](ConstMatView in, std::span<MatView> o) { lin.down(in, o[0]); });
    const Scope timed(Stage::kElementwise);
    kernels::add_rows(x, y);
  }

  // Logits of each chunk's last row (or all its rows).
  std::vector<int64_t> rows;
  for (size_t i = 0; i < chunks.size(); ++i)
    for (int64_t r = chunks[i].all_logits ? off[i] : off[i + 1] - 1; r < off[i + 1]; ++r) rows.push_back(r);
  const int64_t n_out = static_cast<int64_t>(rows.size());
  const Scope timed(Stage::kClassifier);
  Mat last(n_out, D), lastn(n_out, D), out(n_out, c.vocab_size);
  for (int64_t i = 0; i < n_out; ++i)
    std::memcpy(last.row(i), x.row(rows[static_cast<size_t>(i)]), sizeof(float) * static_cast<size_t>(D));
  kernels::rmsnorm(last, w_.final_norm, c.rms_eps, lastn);
  classifier_rows(lastn, out);
  return out;
}

}  // namespace duq::model
