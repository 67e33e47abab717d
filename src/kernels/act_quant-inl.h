// Per-token activation quantization and the fused transform X·Λ⁻¹·R̂₁·P·R̂₂ (act_quant.h), written once and
// compiled once per ISA (the pattern of gemma.cpp's -inl.h files): ref/act_quant_ref.cc, x86/act_quant_avx2.cc
// and x86/act_quant_avx512.cc each define DUQ_ISA_NS (scalar / avx2 / avx512) and include this file, which puts
// everything below in duq::kernels::detail::DUQ_ISA_NS, so no inline function or template instance compiled
// with one ISA's flags can be merged (ODR) into another ISA's or the baseline code. No std:: templates here for
// the same reason (std::min of two floats instantiated with -mavx512f would be one weak symbol shared with
// baseline callers).
//
// What is here:
//   ScalarSteps        the textbook scalar loops of every step (the reference, and the default of every step an
//                      ISA does not vectorize: an ISA's Steps derives from it and overrides what it speeds up);
//   F32Op<Vec>/I16Op<Vec>  the two rotation arithmetics (exact fp32 product-then-fma chain; int16 pairs with
//                      exact int32 sums) over any vector trait Vec (x86/vec_*.h: F, I, kLanes, set1, loadu,
//                      storeu, mul, fmadd, to_float, dot_pairs);
//   VecRotate<Vec>     block rotations over any vector trait: 4 tokens × 2 vectors of columns, column tails in
//                      scalar code with the identical arithmetic (what AVX2 uses, and what a new ISA gets first);
//   rotate_step<K>, act_quant_tiles<K>  the tile loop Λ⁻¹ → R1 → P → R2 → quantize, on an ISA's step set K.
//
// Every step keeps the arithmetic of act_quant.h exactly (integer sums are exact, the float steps are the same
// single roundings, the scales come from the shared baseline functions quant_params / rot16_row_scales), so
// every ISA path is bit-identical to the scalar one; tests/kernels checks that for every path on odd shapes.
//
// A step set K provides (static members; ScalarSteps has them all):
//   kMinMaxFloats       floats per token of the running min/max the last rotation keeps (0: none);
//   reset_min_max(mm)   start token's running min/max; (only with kMinMaxFloats > 0)
//   tile(k)             tokens per tile (≤ kActTile);
//   scale_row(x, sc, o, k)       o = x ⊙ sc (sc null: copy);
//   permute_row(src, perm, o, k) o[j] = src[perm[j]];
//   block_to_i16(row, c, sc, idx, w, r, a16, tmp)  one block's int16 form, returns its output multiplier;
//   rotate_f32(in, out, ld, tokens, k, b, r, rt, mm) / rotate_i16(i16, ld16, out, ld, mult, nbt, tokens, k, b, q,
//                      qt, mm)  a rotation step on a tile (mm: fold the outputs into the running min/max, or null);
//   quantize_row(x, k, k_pad, bits, clip, codes, delta, zero, sum, mm)  the §3 quantizer on one row.
#ifndef DUQ_ISA_NS
#error "define DUQ_ISA_NS (the ISA's namespace) before including kernels/act_quant-inl.h"
#endif
#include <cstring>

#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail::DUQ_ISA_NS {

inline void swap_ptr(float*& a, float*& b) {
  float* t = a;
  a = b;
  b = t;
}
inline float min_f(float a, float b) { return b < a ? b : a; }  // std::min's choice (a unless b < a)
inline float max_f(float a, float b) { return a < b ? b : a; }  // std::max's choice (a unless a < b)

struct ScalarSteps {
  static constexpr int kMinMaxFloats = 0;
  static void reset_min_max(float*) {}
  static int64_t tile(int64_t) { return kActTile; }

  static void scale_row(const float* x, const float* sc, float* o, int64_t k) {
    if (sc)
      for (int64_t j = 0; j < k; ++j) o[j] = x[j] * sc[j];
    else std::memcpy(o, x, static_cast<size_t>(k) * sizeof(float));
  }
  static void permute_row(const float* src, const int32_t* perm, float* o, int64_t k) {
    for (int64_t j = 0; j < k; ++j) o[j] = src[perm[j]];
  }

  // a16 [w + 1] (the pad 0 last) of one block of a row for an integer rotation step; returns the block's output
  // multiplier (rot16_row_scales). The inputs are a_j = row[idx ? idx[j] : c + j]·(sc ? sc[j] : 1) (Λ⁻¹ or P
  // fused in; idx and sc already offset to the block, row the row start).
  static float block_to_i16(const float* row, int64_t c, const float* sc, const int32_t* idx, int64_t w, const Rot16& r,
                            int16_t* a16, float* /*tmp*/) {
    auto at = [&](int64_t j) {
      const float v = idx ? row[idx[j]] : row[c + j];
      return sc ? v * sc[j] : v;
    };
    uint32_t s_bits = 0;
    for (int64_t j = 0; j < w; ++j) {
      const float f = at(j);
      uint32_t v;
      std::memcpy(&v, &f, sizeof v);
      v &= 0x7fffffffu;
      s_bits = v > s_bits ? v : s_bits;
    }
    float inv, mult;
    rot16_row_scales(s_bits, r, &inv, &mult);
    const float lim = static_cast<float>(r.amax);
    for (int64_t j = 0; j < w; ++j)
      a16[j] = inv == 0.f ? 0 : static_cast<int16_t>(min_f(max_f(__builtin_nearbyintf(at(j) * inv), -lim), lim));
    a16[w] = 0;
    return mult;
  }

  // out[c + j] = Σ_i in[c + i]·R[i][j] per block, sequential in i (first term a product, then fma); a tail
  // without matrix is copied.
  static void rotate_f32(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                         const float* rt, float* /*mm*/) {
    const int64_t nb = k / b, t = k - nb * b;
    for (int64_t g = 0; g < tokens; ++g) {
      const float* x = in + g * ld;
      float* y = out + g * ld;
      auto rot = [&](int64_t c, int64_t w, const float* m) {
        for (int64_t j = 0; j < w; ++j) {
          float acc = x[c] * m[j];
          for (int64_t i = 1; i < w; ++i) acc = __builtin_fmaf(x[c + i], m[i * w + j], acc);
          y[c + j] = acc;
        }
      };
      for (int64_t blk = 0; blk < nb; ++blk) rot(blk * b, b, r);
      if (t > 0) {
        if (rt) rot(nb * b, t, rt);
        else std::memcpy(y + nb * b, x + nb * b, static_cast<size_t>(t) * sizeof(float));
      }
    }
  }

  // Per block of token g: out[c + j] = float(Σ_i a16[i]·Rq[i][j]) · mult[g·nbt + block] (exact int32 sums); the
  // columns of a tail without matrix are already in out.
  static void rotate_i16(const int16_t* i16, int64_t ld16, float* out, int64_t ld, const float* mult, int64_t nbt,
                         int64_t tokens, int64_t k, int64_t b, const int32_t* q, const int32_t* qt, float* /*mm*/) {
    const int64_t nb = k / b, t = k - nb * b;
    for (int64_t g = 0; g < tokens; ++g) {
      auto rot = [&](int64_t c, int64_t w, const int32_t* m) {
        const int16_t* a16 = i16 + g * ld16 + c;
        const int16_t* rq = reinterpret_cast<const int16_t*>(m);
        const float mu = mult[g * nbt + c / b];
        for (int64_t j = 0; j < w; ++j) {
          int32_t acc = 0;
          for (int64_t i = 0; i < w; ++i) acc += int32_t{a16[i]} * rq[i / 2 * 2 * w + 2 * j + (i & 1)];
          out[g * ld + c + j] = static_cast<float>(acc) * mu;
        }
      };
      for (int64_t blk = 0; blk < nb; ++blk) rot(blk * b, b, q);
      if (t > 0 && qt) rot(nb * b, t, qt);
    }
  }

  static void quantize_row(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                           int32_t* zero, int32_t* sum, const float* /*mm*/) {
    float mn = x[0], mx = x[0];
    for (int64_t j = 1; j < k; ++j) {
      mn = min_f(mn, x[j]);
      mx = max_f(mx, x[j]);
    }
    float d;
    int32_t z;
    quant_params(mn, mx, bits, clip, &d, &z);
    const float qmax = static_cast<float>((1 << bits) - 1), zf = static_cast<float>(z);
    int32_t s = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t q = static_cast<int32_t>(min_f(max_f(__builtin_nearbyintf(x[j] / d) + zf, 0.f), qmax));
      codes[j] = static_cast<uint8_t>(q);
      s += q;
    }
    if (k_pad > k) std::memset(codes + k, 0, static_cast<size_t>(k_pad - k));
    *delta = d;
    *zero = z;
    *sum = s;
  }
};

// The two rotation arithmetics over a vector trait. A "row" of R is one input of the dot product: a float row
// R[i][·] (F32), or a pair of rows (R[2p][·], R[2p+1][·]) as int32 words of two int16 (I16); either way row i of
// a w-wide matrix starts at r + i·w. first/step: one row's contribution; out: the float outputs (I16:
// float(acc)·mult of the token); scalar: one output column in plain code with the identical arithmetic.
template <class Vec>
struct F32Op {
  using In = float;
  using R = float;
  using V = typename Vec::F;
  static int64_t rows(int64_t w) { return w; }
  static V bcast(const float* x, int64_t i) { return Vec::set1(x[i]); }
  static V load(const float* r) { return Vec::loadu(r); }
  template <class Mask>
  static V load(const float* r, Mask mk) {
    return Vec::loadu(r, mk);
  }
  static V first(V xb, V r) { return Vec::mul(xb, r); }
  static V step(V acc, V xb, V r) { return Vec::fmadd(xb, r, acc); }
  static typename Vec::F out(V acc, float) { return acc; }
  static float scalar(const float* x, const float* r, int64_t w, int64_t j, float) {
    float acc = x[0] * r[j];
    for (int64_t i = 1; i < w; ++i) acc = __builtin_fmaf(x[i], r[i * w + j], acc);
    return acc;
  }
};
template <class Vec>
struct I16Op {
  using In = int16_t;
  using R = int32_t;
  using V = typename Vec::I;
  static int64_t rows(int64_t w) { return (w + 1) / 2; }
  static V bcast(const int16_t* x, int64_t p) {
    int32_t v;
    std::memcpy(&v, x + 2 * p, sizeof v);
    return Vec::set1(v);
  }
  static V load(const int32_t* r) { return Vec::loadu(r); }
  template <class Mask>
  static V load(const int32_t* r, Mask mk) {
    return Vec::loadu(r, mk);
  }
  static V first(V xb, V r) { return Vec::dot_pairs_first(xb, r); }
  static V step(V acc, V xb, V r) { return Vec::dot_pairs(acc, xb, r); }
  static typename Vec::F out(V acc, float mult) { return Vec::mul(Vec::to_float(acc), Vec::set1(mult)); }
  static float scalar(const int16_t* x, const int32_t* r, int64_t w, int64_t j, float mult) {
    const int16_t* q = reinterpret_cast<const int16_t*>(r);
    int32_t acc = 0;
    for (int64_t i = 0; i < w; ++i) acc += int32_t{x[i]} * q[i / 2 * 2 * w + 2 * j + (i & 1)];
    return static_cast<float>(acc) * mult;
  }
};

// Where a rotation reads and writes: tokens ldi (input) / ldo (output floats) apart; mult[g·lmu] the I16 output
// multiplier of token g in the current block (null for F32); mm the running min/max of token 0 (ISAs that keep
// one; null otherwise).
template <class Op>
struct RotIo {
  const typename Op::In* in;
  int64_t ldi;
  float* out;
  int64_t ldo;
  const float* mult;
  int64_t lmu;
  float* mm;
  int64_t lmm = 0;  // floats between consecutive tokens' min/max
  RotIo at(int64_t g) const {
    return {in + g * ldi, ldi, out + g * ldo, ldo, mult ? mult + g * lmu : nullptr, lmu, mm ? mm + g * lmm : nullptr,
            lmm};
  }
  float mu(int64_t g) const { return mult ? mult[g * lmu] : 0.f; }
};

// Block rotations over a vector trait: 4 tokens × 2 vectors of columns (8 accumulators), column tails in
// scalar code. No running min/max (kMinMaxFloats = 0).
template <class Vec>
struct VecRotate {
  static constexpr int64_t kCols = 2 * Vec::kLanes;

  template <class Op, int G>
  static void chunk(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c, int64_t j0) {
    using V = typename Op::V;
    V acc[G][2];
    {
      const V r0 = Op::load(r + j0), r1 = Op::load(r + j0 + Vec::kLanes);
      for (int g = 0; g < G; ++g) {
        const V xb = Op::bcast(io.in + g * io.ldi + c, 0);
        acc[g][0] = Op::first(xb, r0);
        acc[g][1] = Op::first(xb, r1);
      }
    }
    const int64_t n = Op::rows(w);
    for (int64_t i = 1; i < n; ++i) {
      const typename Op::R* ri = r + i * w + j0;
      const V r0 = Op::load(ri), r1 = Op::load(ri + Vec::kLanes);
      for (int g = 0; g < G; ++g) {
        const V xb = Op::bcast(io.in + g * io.ldi + c, i);
        acc[g][0] = Op::step(acc[g][0], xb, r0);
        acc[g][1] = Op::step(acc[g][1], xb, r1);
      }
    }
    for (int g = 0; g < G; ++g) {
      Vec::storeu(io.out + g * io.ldo + c + j0, Op::out(acc[g][0], io.mu(g)));
      Vec::storeu(io.out + g * io.ldo + c + j0 + Vec::kLanes, Op::out(acc[g][1], io.mu(g)));
    }
  }

  template <class Op, int G>
  static void block(const RotIo<Op>& io, const typename Op::R* r, int64_t w, int64_t c) {
    int64_t j0 = 0;
    for (; j0 + kCols <= w; j0 += kCols) chunk<Op, G>(io, r, w, c, j0);
    for (int64_t j = j0; j < w; ++j)
      for (int g = 0; g < G; ++g) io.out[g * io.ldo + c + j] = Op::scalar(io.in + g * io.ldi + c, r, w, j, io.mu(g));
  }

  // out = in · blockdiag(R, …, R, Rt), 4 tokens at a time; a tail without matrix is copied from the float rows
  // fin (io.ldo apart; fin = io.out: already in place).
  template <class Op>
  static void rotate(const RotIo<Op>& io, const float* fin, int64_t tokens, int64_t k, int64_t b,
                     const typename Op::R* r, const typename Op::R* rt) {
    const int64_t nb = k / b, t = k - nb * b;
    for (int64_t g0 = 0; g0 < tokens; g0 += 4) {
      const int64_t gn = tokens - g0 < 4 ? tokens - g0 : 4;
      auto blk = [&](const typename Op::R* m, int64_t w, int64_t c) {
        const RotIo<Op> i0{io.in + g0 * io.ldi,
                           io.ldi,
                           io.out + g0 * io.ldo,
                           io.ldo,
                           io.mult ? io.mult + g0 * io.lmu + c / b : nullptr,
                           io.lmu,
                           nullptr};
        switch (gn) {
          case 1: block<Op, 1>(i0, m, w, c); break;
          case 2: block<Op, 2>(i0, m, w, c); break;
          case 3: block<Op, 3>(i0, m, w, c); break;
          default: block<Op, 4>(i0, m, w, c); break;
        }
      };
      for (int64_t bi = 0; bi < nb; ++bi) blk(r, b, bi * b);
      if (t > 0) {
        if (rt) blk(rt, t, nb * b);
        else if (fin != io.out)
          for (int64_t g = g0; g < g0 + gn; ++g)
            std::memcpy(io.out + g * io.ldo + nb * b, fin + g * io.ldo + nb * b,
                        static_cast<size_t>(t) * sizeof(float));
      }
    }
  }

  static void rotate_f32(const float* in, float* out, int64_t ld, int64_t tokens, int64_t k, int64_t b, const float* r,
                         const float* rt, float* /*mm*/) {
    rotate<F32Op<Vec>>({in, ld, out, ld, nullptr, 0, nullptr}, in, tokens, k, b, r, rt);
  }
  static void rotate_i16(const int16_t* i16, int64_t ld16, float* out, int64_t ld, const float* mult, int64_t nbt,
                         int64_t tokens, int64_t k, int64_t b, const int32_t* q, const int32_t* qt, float* /*mm*/) {
    rotate<I16Op<Vec>>({i16, ld16, out, ld, mult, nbt, nullptr}, out, tokens, k, b, q, qt);
  }
};

// One rotation step on a tile of tokens ld apart: in → out, in float or integer arithmetic (i16: the int16 tile,
// mult: [tokens × ⌈K/b⌉] block multipliers, tmp: block_to_i16's). An integer step reads its input from the fused
// source fs instead of in (FusedIn: rows fs.ld apart, Λ⁻¹ sc or gather idx applied on the fly; a tail without
// matrix is written to out directly). mm: the tile's running min/max, or null.
template <class K>
void rotate_step(const float* in, float* out, int64_t ld, int64_t tokens, const ActQuantArgs& a, const float* r,
                 const float* rt, const Rot16& ri, const FusedIn& fs, int16_t* i16, float* mult, float* tmp,
                 float* mm) {
  if (ri.q) {
    const int64_t ld16 = act_i16_ld(a.k), nbt = (a.k + a.block - 1) / a.block;
    const int64_t nq = ri.q_tail ? nbt : a.k / a.block;
    for (int64_t g = 0; g < tokens; ++g) {
      const float* row = fs.src + g * fs.ld;
      for (int64_t bi = 0, c = 0; bi < nq; ++bi, c += a.block)  // in order: each pad is the next block's first
        mult[g * nbt + bi] = K::block_to_i16(row, c, fs.sc ? fs.sc + c : nullptr, fs.idx ? fs.idx + c : nullptr,
                                             a.k - c < a.block ? a.k - c : a.block, ri, i16 + g * ld16 + c, tmp);
      for (int64_t j = nq * a.block; j < a.k; ++j) out[g * ld + j] = fs.at(row, j);  // tail without matrix
    }
    K::rotate_i16(i16, ld16, out, ld, mult, nbt, tokens, a.k, a.block, ri.q, ri.q_tail, mm);
  } else {
    K::rotate_f32(in, out, ld, tokens, a.k, a.block, r, rt, mm);
  }
}

// The whole kernel on rows [0, a.m): plain quantization, or per tile of K::tile(k) tokens Λ⁻¹ → R1 → P → R2 into
// two float tiles that swap roles, then quantize (or copy out the floats).
template <class K>
void act_quant_tiles(const ActQuantArgs& a) {
  if (!a.transform) {
    for (int64_t m = 0; m < a.m; ++m)
      K::quantize_row(a.x + m * a.ldx, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                      a.sum + m, nullptr);
    return;
  }
  // running min/max of the last rotation's outputs per token (64-byte aligned for vector loads/stores)
  constexpr int64_t kMM = K::kMinMaxFloats;
  alignas(64) float mm[kMM > 0 ? kActTile * kMM : 1];
  const bool fused_mm = kMM > 0 && a.r2 && !a.fout;
  const int64_t ld = (a.k + 15) / 16 * 16 + 16;  // +16: rows not 4 KiB-aliased in L1
  float* bufa = a.scratch;
  float* bufb = a.scratch + kActTile * ld;
  int16_t* i16 = reinterpret_cast<int16_t*>(a.scratch + 2 * kActTile * ld);
  float* mult = a.scratch + 3 * kActTile * ld;
  float* tmp = mult + (kActTile * a.k + 15) / 16 * 16;
  // Λ⁻¹ fused into an integer R1's int16 conversion, P into an integer R2's (no separate pass over the tile)
  const bool fuse1 = a.r1 && a.r1i.q, fuse2 = a.r2 && a.r2i.q && a.perm;
  const int64_t tile = K::tile(a.k);
  for (int64_t m0 = 0; m0 < a.m; m0 += tile) {
    const int64_t tm = a.m - m0 < tile ? a.m - m0 : tile;
    float* cur = bufa;
    float* oth = bufb;
    if (!fuse1)
      for (int64_t g = 0; g < tm; ++g) K::scale_row(a.x + (m0 + g) * a.ldx, a.inv_scale, cur + g * ld, a.k);
    if (a.r1) {
      const FusedIn fs =
          fuse1 ? FusedIn{a.x + m0 * a.ldx, a.ldx, a.inv_scale, nullptr} : FusedIn{cur, ld, nullptr, nullptr};
      rotate_step<K>(cur, oth, ld, tm, a, a.r1, a.r1_tail, a.r1i, fs, i16, mult, tmp, nullptr);
      swap_ptr(cur, oth);
    }
    if (a.perm && !fuse2) {
      for (int64_t g = 0; g < tm; ++g) K::permute_row(cur + g * ld, a.perm, oth + g * ld, a.k);
      swap_ptr(cur, oth);
    }
    if (a.r2) {
      if (fused_mm)
        for (int64_t g = 0; g < tm; ++g) K::reset_min_max(mm + kMM * g);
      rotate_step<K>(cur, oth, ld, tm, a, a.r2, a.r2_tail, a.r2i, FusedIn{cur, ld, nullptr, fuse2 ? a.perm : nullptr},
                     i16, mult, tmp, fused_mm ? mm : nullptr);
      swap_ptr(cur, oth);
    }
    for (int64_t g = 0; g < tm; ++g) {
      const int64_t m = m0 + g;
      if (a.fout) std::memcpy(a.fout + m * a.ldf, cur + g * ld, static_cast<size_t>(a.k) * sizeof(float));
      else
        K::quantize_row(cur + g * ld, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m,
                        a.sum + m, fused_mm ? mm + kMM * g : nullptr);
    }
  }
}

}  // namespace duq::kernels::detail::DUQ_ISA_NS
