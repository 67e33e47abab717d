// Dispatch for per-token activation quantization and the fused transform (act_quant.h).
#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>

#include "core/threads.h"
#include "kernels/cpu_features.h"
#include "kernels/int_kernels_internal.h"

namespace duq::kernels {

namespace {

void run_rows(detail::ActQuantArgs& a) {
  thread_local AlignedVector<float> scratch;
  const size_t need = detail::act_scratch_floats(a.k);
  if (scratch.size() < need) scratch.resize(need);
  a.scratch = scratch.data();
  switch (active_isa()) {
#if DUQ_KERNELS_X86  // the x86/ files are compiled (src/kernels/CMakeLists.txt)
    case Isa::Avx512Vnni: detail::act_quant_avx512(a); break;
    case Isa::Avx2: detail::act_quant_avx2(a); break;
#endif
    default: detail::act_quant_ref(a); break;
  }
}

// Tokens (rows) are independent: the rows split over num_threads() threads, each range one call on offset
// pointers with its own thread-local scratch. A row's arithmetic does not depend on which tile it is in, so the
// output is bit-identical for any split. Ranges are whole tiles of kActTile tokens when there are enough
// (each tile reuses the rotation's chunks from L1); fewer rows than one tile per thread (a batched decode
// step: one token per sequence) split evenly, at least kMinRowsPerThread each. Small inputs stay on one thread.
void run(const detail::ActQuantArgs& a) {
  // below this many elements a fork costs more than it saves (a transformed element costs two block
  // rotations, ~2·block multiply-adds, so much less is worth splitting)
  const int64_t min_parallel_elems = a.transform ? int64_t{1} << 12 : int64_t{1} << 16;
  constexpr int64_t kMinRowsPerThread = 4;
  const int64_t tiles = (a.m + detail::kActTile - 1) / detail::kActTile;
  const int64_t T =
      a.m * a.k < min_parallel_elems ? 1 : std::min<int64_t>(num_threads(), std::max(tiles, a.m / kMinRowsPerThread));
  const int64_t unit = tiles >= T ? detail::kActTile : 1, units = (a.m + unit - 1) / unit;
  parallel_for(std::max<int64_t>(T, 1), [&](int64_t t) {
    const int64_t m0 = std::min(a.m, units * t / T * unit);
    const int64_t m1 = std::min(a.m, units * (t + 1) / T * unit);
    if (m0 >= m1) return;
    detail::ActQuantArgs b = a;
    b.x += m0 * a.ldx;
    b.m = m1 - m0;
    if (a.fout) {
      b.fout += m0 * a.ldf;
    } else {
      b.codes += m0 * a.k_pad;
      b.scale += m0, b.zero += m0, b.sum += m0;
    }
    run_rows(b);
  });
}

void prepare(ConstMatView x, int bits, float clip, QuantActs& out, detail::ActQuantArgs& a) {
  DUQ_CHECK(bits >= 2 && bits <= 8, "activation bits must be in [2, 8], got ", bits);
  DUQ_CHECK(clip > 0.f && clip <= 1.f, "clip ratio must be in (0, 1]");
  DUQ_CHECK(x.cols >= 1 && x.cols <= (int64_t{1} << 20), "activation K out of range: ", x.cols);
  out.bits = bits;
  out.rows = x.rows;
  out.cols = x.cols;
  out.cols_pad = (x.cols + kActKAlign - 1) / kActKAlign * kActKAlign;
  out.codes.resize(static_cast<size_t>(out.rows * out.cols_pad));
  out.scale.resize(static_cast<size_t>(out.rows));
  out.zero.resize(static_cast<size_t>(out.rows));
  out.sum.resize(static_cast<size_t>(out.rows));
  a.x = x.data;
  a.m = x.rows;
  a.k = x.cols;
  a.ldx = x.ld;
  a.bits = bits;
  a.clip = clip;
  a.codes = out.codes.data();
  a.k_pad = out.cols_pad;
  a.scale = out.scale.data();
  a.zero = out.zero.data();
  a.sum = out.sum.data();
}

detail::Rot16 rot16(const Int16Rotation* q, const float* r, const float* rt, int64_t block, int64_t k) {
  detail::Rot16 out;
  if (!q) return out;
  DUQ_CHECK(r, "act transform: an integer rotation needs its float matrix");
  DUQ_CHECK(q->block == block && q->tail == (rt ? k % block : 0),
            "act transform: integer rotation built for other widths");
  out.q = reinterpret_cast<const int32_t*>(q->full.data());
  out.q_tail = q->tail ? reinterpret_cast<const int32_t*>(q->tail_q.data()) : nullptr;
  out.amax = q->amax;
  out.out_scale = q->out_scale;
  return out;
}

void set_transform(const ActTransform& t, int64_t k, detail::ActQuantArgs& a) {
  DUQ_CHECK(!(t.r1 || t.r2) || t.block >= 1, "act transform: rotation needs block >= 1");
  a.r1i = rot16(t.r1_int, t.r1, t.r1_tail, t.block, k);
  a.r2i = rot16(t.r2_int, t.r2, t.r2_tail, t.block, k);
  a.transform = true;
  a.block = t.block;
  a.inv_scale = t.inv_scale;
  a.r1 = t.r1;
  a.r1_tail = t.r1_tail;
  a.perm = t.perm;
  a.r2 = t.r2;
  a.r2_tail = t.r2_tail;
  if (t.perm)
    for (int64_t j = 0; j < k; ++j) DUQ_CHECK(t.perm[j] >= 0 && t.perm[j] < k, "act transform: bad permutation");
}

// Largest column L1 norm Σ_i |m[i][j]| of a w×w row-major matrix.
template <class T>
double max_col_l1(const T* m, int64_t w) {
  double best = 0.0;
  for (int64_t j = 0; j < w; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < w; ++i) s += std::abs(static_cast<double>(m[i * w + j]));
    best = std::max(best, s);
  }
  return best;
}

// Rq = round(R·S) pair-interleaved (act_quant.h).
AlignedVector<int16_t> interleave_pairs(const float* r, int64_t w, float scale) {
  AlignedVector<int16_t> q(static_cast<size_t>((w + 1) / 2 * 2 * w), 0);
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const double v = std::nearbyint(static_cast<double>(r[i * w + j]) * scale);
      q[static_cast<size_t>(i / 2 * 2 * w + 2 * j + (i & 1))] = static_cast<int16_t>(std::clamp(v, -32767.0, 32767.0));
    }
  return q;
}

}  // namespace

Int16Rotation make_int16_rotation(const float* r, int64_t block, const float* r_tail, int64_t tail) {
  DUQ_CHECK(r && block >= 1 && tail >= 0 && tail < block && (tail == 0) == (r_tail == nullptr),
            "make_int16_rotation: bad shapes");
  double m = 0.0;
  auto scan = [&](const float* x, int64_t w) {
    for (int64_t i = 0; i < w * w; ++i) {
      DUQ_CHECK(std::isfinite(x[i]), "make_int16_rotation: non-finite matrix entry");
      m = std::max(m, std::abs(static_cast<double>(x[i])));
    }
  };
  scan(r, block);
  if (tail) scan(r_tail, tail);
  double l1 = max_col_l1(r, block);
  if (tail) l1 = std::max(l1, max_col_l1(r_tail, tail));
  constexpr double kI32 = 2147483647.0, kAmaxTarget = 16383.0;
  // S: entries within int16 and, with |a16| ≤ 16383 (2^14; 2^13.5 measured slightly better on Gaussian rows,
  // 2^14 keeps outlier blocks finer), sums within int32; amax is then set from the exact Lq
  const double s = m > 0.0 ? std::min(32767.0 / m, kI32 / (kAmaxTarget * l1) * (1.0 - 1e-6)) : 1.0;
  Int16Rotation q;
  q.block = block;
  q.tail = tail;
  q.scale = static_cast<float>(s);
  q.full = interleave_pairs(r, block, q.scale);
  if (tail) q.tail_q = interleave_pairs(r_tail, tail, q.scale);
  int64_t lq = 1;
  auto col_l1 = [&](const AlignedVector<int16_t>& v, int64_t w) {
    for (int64_t j = 0; j < w; ++j) {
      int64_t sum = 0;
      for (int64_t i = 0; i < w; ++i)
        sum += std::abs(static_cast<int64_t>(v[static_cast<size_t>(i / 2 * 2 * w + 2 * j + (i & 1))]));
      lq = std::max(lq, sum);
    }
  };
  col_l1(q.full, block);
  if (tail) col_l1(q.tail_q, tail);
  q.amax = static_cast<int32_t>(std::min<int64_t>(32767, static_cast<int64_t>(kI32) / lq));
  DUQ_CHECK(q.amax >= 1 && int64_t{q.amax} * lq <= static_cast<int64_t>(kI32), "make_int16_rotation: bound");
  q.out_scale = static_cast<float>(1.0 / (static_cast<double>(q.amax) * static_cast<double>(q.scale)));
  return q;
}

void quantize_acts(ConstMatView x, int bits, float clip, QuantActs& out) {
  detail::ActQuantArgs a;
  prepare(x, bits, clip, out, a);
  if (x.rows) run(a);
}

void transform_quantize_acts(ConstMatView x, const ActTransform& t, int bits, float clip, QuantActs& out) {
  detail::ActQuantArgs a;
  prepare(x, bits, clip, out, a);
  set_transform(t, x.cols, a);
  if (x.rows) run(a);
}

void apply_act_transform(ConstMatView x, const ActTransform& t, MatView y) {
  DUQ_CHECK(y.rows == x.rows && y.cols == x.cols, "apply_act_transform: shape");
  detail::ActQuantArgs a;
  a.x = x.data;
  a.m = x.rows;
  a.k = x.cols;
  a.ldx = x.ld;
  set_transform(t, x.cols, a);
  a.fout = y.data;
  a.ldf = y.ld;
  if (x.rows && x.cols) run(a);
}

void quantize_acts_split(ConstMatView y, const int32_t* wide, int64_t n_wide, int bits, float clip, QuantActs& narrow,
                         QuantActs& wide_out) {
  DUQ_CHECK(n_wide > 0 && n_wide < y.cols, "quantize_acts_split: ", n_wide, " wide of ", y.cols, " columns");
  int64_t first_narrow = 0;  // wide is sorted: the first column not in it
  while (first_narrow < n_wide && wide[first_narrow] == first_narrow) ++first_narrow;
  thread_local Mat filled, gathered;
  filled.resize(y.rows, y.cols);
  gathered.resize(y.rows, n_wide);
  for (int64_t m = 0; m < y.rows; ++m) {
    const float* src = y.row(m);
    float* f = filled.row(m);
    float* g = gathered.row(m);
    std::copy(src, src + y.cols, f);
    for (int64_t i = 0; i < n_wide; ++i) {
      g[i] = src[wide[i]];
      f[wide[i]] = src[first_narrow];
    }
  }
  quantize_acts(filled, bits, clip, narrow);
  quantize_acts(gathered, kWideBits, 1.f, wide_out);
}

Mat dequantize_acts(const QuantActs& q) {
  Mat out(q.rows, q.cols);
  for (int64_t m = 0; m < q.rows; ++m)
    for (int64_t k = 0; k < q.cols; ++k)
      out(m, k) = static_cast<float>(static_cast<int32_t>(q.row(m)[k]) - q.zero[m]) * q.scale[m];
  return out;
}

}  // namespace duq::kernels
