#include "model/int_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/stage_clock.h"
#include "core/threads.h"
#include "formats/q8_0.h"
#include "kernels/gemm_f32.h"
#include "model/kv_quant_cache.h"

namespace duq::model {

SiteQuantizer::SiteQuantizer(const OnlineTransform& t, int64_t width, int bits, float clip,
                             const TransformFactory& factory, bool exact_rotations)
    : bits_(bits), clip_(clip), t_(&t) {
  if (!t.smooth.empty()) {
    DUQ_CHECK(static_cast<int64_t>(t.smooth.size()) == width);
    for (float s : t.smooth) inv_scale_.push_back(1.f / s);
  }
  // Per-block rotations (the paper variant) have no fused kernel (the int16 / fp32 rotation kernels take one
  // matrix for all blocks): they run as fp32 BLAS products through the factory, then the same quantizer.
  bool per_block = false;
  for (const auto& r : t.rotations) per_block = per_block || !r.per_block.empty();
  if (t.kind == OnlineTransform::Kind::Hadamard || per_block) {
    if (!factory)
      fail(
          "this quantized model uses a transform (randomized Hadamard or per-block rotations) that needs a transform "
          "factory");
    generic_ = factory(t, width);
  }
  // DuQuant rounds as a chain of {scale?, R, P, R'} steps: R₁ P₁ R₂ | P₂ R₃ | …
  kernels::ActTransform first;
  first.inv_scale = inv_scale_.empty() ? nullptr : inv_scale_.data();
  if (t.kind == OnlineTransform::Kind::DuQuant && !per_block) {
    const auto& R = t.rotations;
    // by default every rotation step runs in exact integer arithmetic (kernels::Int16Rotation; ~3e-4 relative
    // to the float rotation, ~1.5× faster at M = 512); the matrices are converted here, once. exact_rotations:
    // the fp32 rotations, the simulation's arithmetic.
    int_rots_.reserve(R.size());
    for (const auto& r : R)
      if (!exact_rotations)
        int_rots_.push_back(kernels::make_int16_rotation(
            r.full.data(), r.block, r.tail.size() ? r.tail.data() : nullptr, r.tail.size() ? r.tail.rows() : 0));
    first.block = R[0].block;
    first.r1 = R[0].full.data();
    first.r1_tail = R[0].tail.size() ? R[0].tail.data() : nullptr;
    first.r1_int = int_rots_.empty() ? nullptr : &int_rots_[0];
    if (R.size() >= 2) {
      first.perm = t.perms[0].data();
      // r2 must share r1's block size inside one ActTransform; different sizes go to the next step.
      if (R[1].block == R[0].block) {
        first.r2 = R[1].full.data();
        first.r2_tail = R[1].tail.size() ? R[1].tail.data() : nullptr;
        first.r2_int = int_rots_.empty() ? nullptr : &int_rots_[1];
      }
    }
    chain_.push_back(first);
    size_t next = first.r2 ? 2 : 1;
    for (size_t i = next; i < R.size(); ++i) {
      kernels::ActTransform step;
      step.block = R[i].block;
      step.perm = (i == next && !first.r2) ? nullptr : t.perms[i - 1].data();
      step.r2 = R[i].full.data();
      step.r2_tail = R[i].tail.size() ? R[i].tail.data() : nullptr;
      step.r2_int = int_rots_.empty() ? nullptr : &int_rots_[i];
      chain_.push_back(step);
    }
  } else {
    chain_.push_back(first);  // smoothing only, or nothing
  }
}

void SiteQuantizer::apply_steps(Mat& y, size_t steps) const {
  if (generic_) {
    if (!inv_scale_.empty())
      for (int64_t i = 0; i < y.rows(); ++i)
        for (int64_t j = 0; j < y.cols(); ++j) y(i, j) *= inv_scale_[static_cast<size_t>(j)];
    generic_(y);
    return;
  }
  Mat tmp;
  for (size_t i = 0; i < steps; ++i) {
    const auto& step = chain_[i];
    if (!step.inv_scale && !step.r1 && !step.perm && !step.r2) continue;
    tmp.resize(y.rows(), y.cols());
    kernels::apply_act_transform(y, step, tmp);
    std::swap(y, tmp);
  }
}

void SiteQuantizer::quantize(ConstMatView x, kernels::QuantActs& out, kernels::QuantActs& wide) const {
  if (has_wide()) {
    // The whole transform (the same arithmetic as the fused kernel), then the split quantizer.
    Mat y(x);
    apply_steps(y, chain_.size());
    kernels::quantize_acts_split(y, t_->wide.data(), static_cast<int64_t>(t_->wide.size()), bits_, clip_, out, wide);
    return;
  }
  if (generic_ || chain_.size() > 1) {
    // All but the last step alone, the last fused with the quantization (generic: the whole transform alone).
    Mat y(x);
    apply_steps(y, chain_.size() - 1);
    if (generic_) kernels::quantize_acts(y, bits_, clip_, out);
    else kernels::transform_quantize_acts(y, chain_.back(), bits_, clip_, out);
    return;
  }
  const auto& t = chain_.front();
  if (!t.inv_scale && !t.r1 && !t.perm && !t.r2) kernels::quantize_acts(x, bits_, clip_, out);
  else kernels::transform_quantize_acts(x, t, bits_, clip_, out);
}

IntLinears::IntLinears(const ModelConfig& c, const QuantLayer& layer, const QuantSettings& q,
                       const TransformFactory& factory, bool exact_rotations)
    : L_(layer) {
  const int64_t widths[kNumSites] = {c.dim, c.q_dim(), c.dim, c.hidden_dim};
  for (int s = 0; s < kNumSites; ++s)
    sites_.emplace_back(
        layer.sites[static_cast<size_t>(s)], widths[s], q.abits == 16 ? 8 : q.abits,
        layer.sites[static_cast<size_t>(s)].act_clip > 0.f ? layer.sites[static_cast<size_t>(s)].act_clip : q.lac,
        factory, exact_rotations);
}

bool IntLinears::row_exact() const {
  return std::all_of(sites_.begin(), sites_.end(), [](const SiteQuantizer& s) { return s.row_exact(); });
}

void IntLinears::attn_in(ConstMatView xn, MatView q, MatView k, MatView v) const {
  quantize_site(0, xn);
  const stage_clock::Scope timed(stage_clock::Stage::kIntGemm);
  gemm(0, q);
  gemm(1, k);
  gemm(2, v);
}
void IntLinears::attn_out(ConstMatView att, MatView y) const {
  quantize_site(1, att);
  const stage_clock::Scope timed(stage_clock::Stage::kIntGemm);
  gemm(3, y);
}
void IntLinears::ffn_in(ConstMatView xn, MatView gate, MatView up) const {
  quantize_site(2, xn);
  const stage_clock::Scope timed(stage_clock::Stage::kIntGemm);
  gemm(4, gate);
  gemm(5, up);
}
void IntLinears::down(ConstMatView act, MatView y) const {
  quantize_site(3, act);
  const stage_clock::Scope timed(stage_clock::Stage::kIntGemm);
  gemm(6, y);
}
void IntLinears::quantize_site(int site, ConstMatView x) const {
  const stage_clock::Scope timed(stage_clock::Stage::kActQuant);
  sites_[static_cast<size_t>(site)].quantize(x, acts_, wide_acts_);
}
void IntLinears::gemm(int linear, MatView y) const {
  const std::array<const kernels::PackedWeights*, 7> w{&L_.wq,     &L_.wk,   &L_.wv,    &L_.wo,
                                                       &L_.w_gate, &L_.w_up, &L_.w_down};
  const kernels::PackedWeights& wide = L_.wide[static_cast<size_t>(linear)];
  if (wide.rows == 0) kernels::int_gemm(acts_, *w[static_cast<size_t>(linear)], y);
  else kernels::int_gemm_wide(acts_, *w[static_cast<size_t>(linear)], wide_acts_, wide, y, wide_out_);
}

void fake_quant_rows(MatView x, int64_t width, int bits, float clip, kernels::QuantActs& q) {
  if (bits >= 16) return;
  DUQ_CHECK(x.contiguous() && x.cols % width == 0);
  MatView rows(x.data, x.rows * (x.cols / width), width);
  kernels::quantize_acts(rows, bits, clip, q);
  // x̂ = (q − z)·Δ, exactly as kernels::dequantize_acts.
  kernels::for_rows(rows.rows, width, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const uint8_t* c = q.row(i);
      const float s = q.scale[static_cast<size_t>(i)];
      const int32_t z = q.zero[static_cast<size_t>(i)];
      float* r = rows.row(i);
      for (int64_t j = 0; j < width; ++j) r[j] = static_cast<float>(static_cast<int32_t>(c[j]) - z) * s;
    }
  });
}

void fake_quant_rows(MatView x, int64_t width, int bits, float clip) {
  kernels::QuantActs q;
  fake_quant_rows(x, width, bits, clip, q);
}

AttentionQuantHooks::AttentionQuantHooks(const ModelConfig& c, const QuantSettings& q, const Mat& qk_rotation,
                                         bool quantize_kv)
    : hd_(c.head_dim()), q_(q), rot_(qk_rotation), quantize_kv_(quantize_kv) {}

void AttentionQuantHooks::qk(int layer, MatView q, MatView k) {
  if (!q_.k_center.empty()) kernels::subtract_from_rows(k, q_.k_center[static_cast<size_t>(layer)]);
  for (MatView x : {q, k}) {
    if (rot_.size()) {
      MatView heads(x.data, x.rows * (x.cols / hd_), hd_);
      rot_tmp_.resize(heads.rows, heads.cols);
      std::memcpy(rot_tmp_.data(), heads.data, sizeof(float) * static_cast<size_t>(heads.rows * heads.cols));
      kernels::matmul(rot_tmp_, rot_, heads);
    }
  }
  fake_quant_rows(q, hd_, q_.abits, q_.qk_clip_at(layer), tmp_);
  if (quantize_kv_) fake_quant_rows(k, hd_, q_.kv_bits, q_.qk_clip_at(layer), tmp_);
}

void AttentionQuantHooks::v(int, MatView v) {
  if (quantize_kv_) fake_quant_rows(v, hd_, q_.kv_bits, 1.f, tmp_);
}

namespace {

// Per-sequence state of IntAttention: the quantized cache and scratch tiles.
// Scratch tiles of one thread's share of the attention.
struct Tiles {
  AlignedVector<float> kh, vh, qg, scores, og;
};

struct IntAttentionState : KVCacheExtension {
  IntAttentionState(const ModelConfig& c, int capacity, int bits) : kv(c, capacity, bits) {}
  QuantKVCache kv;
  Tiles tiles;  // one thread's (the other threads keep theirs thread-local)
};

MatView tile(AlignedVector<float>& buf, int64_t rows, int64_t cols) {
  const size_t n = static_cast<size_t>(rows * cols);
  if (buf.size() < n) buf.resize(n);
  return MatView(buf.data(), rows, cols);
}

}  // namespace

IntAttention::IntAttention(const ModelConfig& c, const QuantSettings& q) : c_(c), kv_bits_(q.kv_bits), q_(q) {}

void IntAttention::attend(int layer, MatView q, MatView k, MatView v, int pos0, KVCache& cache, MatView att) const {
  if (kv_bits_ >= 16) {
    if (!cache.work) cache.work = std::make_unique<BlockWorkspace>();
    cache.allocate_float();
    float_attention(c_, q, k, v, pos0, cache.k[static_cast<size_t>(layer)], cache.v[static_cast<size_t>(layer)], att,
                    cache.work->scores);
    return;
  }
  auto* st = dynamic_cast<IntAttentionState*>(cache.ext.get());
  if (!st) {
    cache.ext = std::make_unique<IntAttentionState>(c_, cache.capacity, kv_bits_);
    st = static_cast<IntAttentionState*>(cache.ext.get());
  }
  st->kv.store(layer, QuantKVCache::K, k, pos0, q_.qk_clip_at(layer));
  st->kv.store(layer, QuantKVCache::V, v, pos0, 1.f);

  const int64_t T = q.rows, hd = c_.head_dim(), n_ctx = pos0 + T;
  const int group = c_.n_heads / c_.n_kv_heads;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  // KV heads split over the threads: each dequantizes its K̂/V̂ into its own tiles and writes the columns of
  // its query heads (BLAS single-threaded inside; the same calls, so the same bits, on any thread count).
  auto kv_heads = [&](int64_t g0, int64_t g1, Tiles& w) {
    MatView kh = tile(w.kh, n_ctx, hd), vh = tile(w.vh, n_ctx, hd);
    for (int64_t g = g0; g < g1; ++g) {
      st->kv.load_head(layer, QuantKVCache::K, static_cast<int>(g), n_ctx, kh);
      st->kv.load_head(layer, QuantKVCache::V, static_cast<int>(g), n_ctx, vh);
      if (T == 1) {
        // Decode: the group's query heads share K̂/V̂, so one product each for all of them.
        MatView qg = tile(w.qg, group, hd), og = tile(w.og, group, hd), sc = tile(w.scores, group, n_ctx);
        for (int i = 0; i < group; ++i)
          std::memcpy(qg.row(i), q.row(0) + (g * group + i) * hd, sizeof(float) * static_cast<size_t>(hd));
        kernels::matmul_xwt(qg, kh, sc);
        attention_softmax(c_, sc, pos0, 0, scale);  // T = 1: every row is position pos0
        kernels::matmul(sc, vh, og);
        for (int i = 0; i < group; ++i)
          std::memcpy(att.row(0) + (g * group + i) * hd, og.row(i), sizeof(float) * static_cast<size_t>(hd));
        continue;
      }
      // Queries in chunks of 64 rows: chunk [t0, t0+n) only sees keys 0 … pos0+t0+n−1, so the masked upper
      // triangle is neither multiplied nor exponentiated.
      constexpr int64_t kChunk = 64;
      for (int64_t t0 = 0; t0 < T; t0 += kChunk) {
        const int64_t n = std::min(kChunk, T - t0), keys = pos0 + t0 + n;
        MatView sc = tile(w.scores, n, keys);
        for (int i = 0; i < group; ++i) {
          const int64_t h = g * group + i;
          kernels::matmul_xwt(q.rows_slice(t0, n).cols_slice(h * hd, hd), kh.rows_slice(0, keys), sc);
          attention_softmax(c_, sc, pos0 + t0, 1, scale);
          kernels::matmul(sc, vh.rows_slice(0, keys), att.rows_slice(t0, n).cols_slice(h * hd, hd));
        }
      }
    }
  };
  // ~n_heads·T·n_ctx·hd multiply-adds (+ the dequantization); below ~1M a fork costs more than it saves
  if (num_threads() < 2 || int64_t{c_.n_heads} * T * n_ctx * hd < (int64_t{1} << 20)) {
    kv_heads(0, c_.n_kv_heads, st->tiles);
    return;
  }
  parallel_ranges(c_.n_kv_heads, [&](int64_t g0, int64_t g1) {
    thread_local Tiles w;
    kv_heads(g0, g1, w);
  });
}

IntModel make_int_model(std::unique_ptr<QuantModelData> data, const TransformFactory& factory, bool quantized_kv,
                        bool exact_rotations) {
  if (data->q.abits == 16) fail("weight-only models (A16) run through --simulate");
  IntModel m;
  const ModelConfig& c = data->cfg;
  ModelWeights w;
  // The tables move into the Model (nothing reads them from `data` afterwards): one copy in memory, not two.
  w.embed = std::move(data->embed);
  w.final_norm = data->final_norm;
  w.lm_head = std::move(data->lm_head);
  for (const auto& L : data->layers) {
    LayerWeights lw;
    lw.attn_norm = L.attn_norm;
    lw.ffn_norm = L.ffn_norm;
    w.layers.push_back(std::move(lw));
  }
  m.model = std::make_unique<Model>(c, std::move(w));
  for (int l = 0; l < c.n_layers; ++l)
    m.model->set_block_linears(
        l, std::make_shared<IntLinears>(c, data->layers[static_cast<size_t>(l)], data->q, factory, exact_rotations));
  m.hooks = std::make_unique<AttentionQuantHooks>(c, data->q, data->qk_rotation, /*quantize_kv=*/!quantized_kv);
  m.model->set_gemv_logits(true);
  // The tables stay in their stored type: as the reader handed them over (TableLoad::AsStored), or, when it
  // widened them, converted back — exactly for F16; for Q8_0 only when re-encoding gives back the very values
  // (a table written by duquant does; anything else keeps its f32 widening).
  if (!c.tied_embeddings) {
    if (!data->lm_head_f16.empty()) {
      m.model->set_half_classifier(std::move(data->lm_head_f16));
    } else if (data->lm_head_type == TableType::F16) {
      const Mat& wide = m.model->weights().lm_head;
      AlignedVector<uint16_t> half(static_cast<size_t>(wide.size()));
      for (size_t i = 0; i < half.size(); ++i) half[i] = f32_to_f16(wide.data()[i]);
      m.model->set_half_classifier(std::move(half));
    }
    if (!data->embed_q8_0.empty()) {
      m.model->set_q8_0_embedding(std::move(data->embed_q8_0));
    } else if (data->embed_type == TableType::Q8_0 && c.dim % static_cast<int>(formats::kQ8_0Block) == 0) {
      const Mat& wide = m.model->weights().embed;
      AlignedVector<uint8_t> q(static_cast<size_t>(wide.size()) / formats::kQ8_0Block * formats::kQ8_0BlockBytes);
      formats::q8_0_encode(wide.data(), static_cast<size_t>(wide.size()), q.data(), "embedding");
      std::vector<float> back(static_cast<size_t>(c.dim));
      bool exact = true;
      const size_t row_bytes = static_cast<size_t>(c.dim) / formats::kQ8_0Block * formats::kQ8_0BlockBytes;
      for (int64_t r = 0; r < wide.rows() && exact; ++r) {
        formats::q8_0_decode(q.data() + static_cast<size_t>(r) * row_bytes, back.size(), back.data());
        exact = std::memcmp(back.data(), wide.row(r), back.size() * sizeof(float)) == 0;
      }
      if (exact) m.model->set_q8_0_embedding(std::move(q));
    }
  }
  if (quantized_kv) m.model->set_attention(std::make_shared<IntAttention>(c, data->q));
  m.data = std::move(data);
  return m;
}

}  // namespace duq::model
