// Scalar reference for per-token activation quantization and the fused activation transform.
// Obviously correct first, fast never: one token at a time, the textbook loops of act_quant.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/int_kernels_internal.h"

namespace duq::kernels::detail {

void quant_params(float rmin, float rmax, int bits, float clip, float* delta, int32_t* zero) {
  const float qmax = static_cast<float>((1 << bits) - 1);
  const float xmin = rmin * clip, xmax = rmax * clip;
  float d = (xmax - xmin) / qmax;
  d = std::min(std::max(d, 1e-5f), 1e4f);
  float zf = -xmin / d;
  const float lim = static_cast<float>(1 << 22);
  zf = std::min(std::max(zf, -lim), lim);
  *delta = d;
  *zero = static_cast<int32_t>(std::nearbyint(zf));
}

void rot16_row_scales(uint32_t s_bits, const Rot16& r, float* inv, float* mult) {
  if (s_bits >= 0x7f800000u) {  // inf or NaN in the row
    *inv = 0.f;
    *mult = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  float s;
  std::memcpy(&s, &s_bits, sizeof s);
  const float i = static_cast<float>(r.amax) / s;
  if (!(i <= std::numeric_limits<float>::max())) {  // s = 0 or tiny
    *inv = 0.f;
    *mult = 0.f;
    return;
  }
  *inv = i;
  *mult = s * r.out_scale;
}

namespace {

// a16 [k + 1] (the pad 0 last) from one block [c, c + k) of a row; returns the block's output multiplier.
float block_to_i16_ref(const FusedIn& a, int64_t c, int64_t k, const Rot16& r, int16_t* a16) {
  uint32_t s_bits = 0;
  for (int64_t j = 0; j < k; ++j) {
    const float f = a.at(a.src, c + j);
    uint32_t v;
    std::memcpy(&v, &f, sizeof v);
    s_bits = std::max(s_bits, v & 0x7fffffffu);
  }
  float inv, mult;
  rot16_row_scales(s_bits, r, &inv, &mult);
  const float lim = static_cast<float>(r.amax);
  for (int64_t j = 0; j < k; ++j)
    a16[j] = inv == 0.f ? 0 : static_cast<int16_t>(std::min(std::max(std::nearbyint(a.at(a.src, c + j) * inv), -lim), lim));
  a16[k] = 0;
  return mult;
}

// Per block: a16 = the block's int16 form, out[c + j] = float(Σ_i a16[i]·Rq[i][j]) · mult (exact int32
// sums); tail without matrix: copied from the input.
void block_rotate_i16_ref(int16_t* a16, const FusedIn& in, float* out, int64_t k, int64_t b, const Rot16& r) {
  const int64_t nb = k / b, t = k - nb * b;
  auto rot = [&](int64_t c, int64_t w, const int32_t* m) {
    const float mult = block_to_i16_ref(in, c, w, r, a16);
    const int16_t* q = reinterpret_cast<const int16_t*>(m);
    for (int64_t j = 0; j < w; ++j) {
      int32_t acc = 0;
      for (int64_t i = 0; i < w; ++i) acc += int32_t{a16[i]} * q[i / 2 * 2 * w + 2 * j + (i & 1)];
      out[c + j] = static_cast<float>(acc) * mult;
    }
  };
  for (int64_t blk = 0; blk < nb; ++blk) rot(blk * b, b, r.q);
  if (t > 0) {
    if (r.q_tail) rot(nb * b, t, r.q_tail);
    else
      for (int64_t i = nb * b; i < k; ++i) out[i] = in.at(in.src, i);
  }
}

// out[c + j] = Σ_i in[c + i]·R[i][j] per block, sequential in i (first term a product, then fma).
void block_rotate_ref(const float* in, float* out, int64_t k, int64_t b, const float* r, const float* rt) {
  const int64_t nb = k / b, t = k - nb * b;
  auto rot = [&](int64_t c, int64_t w, const float* m) {
    for (int64_t j = 0; j < w; ++j) {
      float acc = in[c] * m[j];
      for (int64_t i = 1; i < w; ++i) acc = std::fma(in[c + i], m[i * w + j], acc);
      out[c + j] = acc;
    }
  };
  for (int64_t blk = 0; blk < nb; ++blk) rot(blk * b, b, r);
  if (t > 0) {
    if (rt) rot(nb * b, t, rt);
    else std::memcpy(out + nb * b, in + nb * b, static_cast<size_t>(t) * sizeof(float));
  }
}

void quantize_row_ref(const float* x, int64_t k, int64_t k_pad, int bits, float clip, uint8_t* codes, float* delta,
                      int32_t* zero, int32_t* sum) {
  float mn = x[0], mx = x[0];
  for (int64_t j = 1; j < k; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  float d;
  int32_t z;
  quant_params(mn, mx, bits, clip, &d, &z);
  const float qmax = static_cast<float>((1 << bits) - 1), zf = static_cast<float>(z);
  int32_t s = 0;
  for (int64_t j = 0; j < k; ++j) {
    const float v = std::min(std::max(std::nearbyint(x[j] / d) + zf, 0.f), qmax);
    const int32_t q = static_cast<int32_t>(v);
    codes[j] = static_cast<uint8_t>(q);
    s += q;
  }
  for (int64_t j = k; j < k_pad; ++j) codes[j] = 0;
  *delta = d;
  *zero = z;
  *sum = s;
}

}  // namespace

void act_quant_ref(const ActQuantArgs& a) {
  float* buf0 = a.scratch;
  float* buf1 = a.scratch + a.k;
  int16_t* a16 = reinterpret_cast<int16_t*>(a.scratch + 2 * a.k);
  // Λ⁻¹ fused into an integer R1's conversion, P into an integer R2's (no separate pass)
  const bool fuse1 = a.r1 && a.r1i.q, fuse2 = a.r2 && a.r2i.q && a.perm;
  auto rotate = [&](const FusedIn& in, float* out, const float* r, const float* rt, const Rot16& ri) {
    if (ri.q) block_rotate_i16_ref(a16, in, out, a.k, a.block, ri);
    else block_rotate_ref(in.src, out, a.k, a.block, r, rt);
  };
  for (int64_t m = 0; m < a.m; ++m) {
    const float* x = a.x + m * a.ldx;
    const float* row = x;
    if (a.transform) {
      float* cur = buf0;
      float* oth = buf1;
      if (!fuse1)
        for (int64_t j = 0; j < a.k; ++j) cur[j] = a.inv_scale ? x[j] * a.inv_scale[j] : x[j];
      if (a.r1) {
        rotate(fuse1 ? FusedIn{x, 0, a.inv_scale, nullptr} : FusedIn{cur, 0, nullptr, nullptr}, oth, a.r1, a.r1_tail, a.r1i);
        std::swap(cur, oth);
      }
      if (a.perm && !fuse2) {
        for (int64_t j = 0; j < a.k; ++j) oth[j] = cur[a.perm[j]];
        std::swap(cur, oth);
      }
      if (a.r2) {
        rotate(FusedIn{cur, 0, nullptr, fuse2 ? a.perm : nullptr}, oth, a.r2, a.r2_tail, a.r2i);
        std::swap(cur, oth);
      }
      row = cur;
    }
    if (a.fout) {
      std::memcpy(a.fout + m * a.ldf, row, static_cast<size_t>(a.k) * sizeof(float));
      continue;
    }
    quantize_row_ref(row, a.k, a.k_pad, a.bits, a.clip, a.codes + m * a.k_pad, a.scale + m, a.zero + m, a.sum + m);
  }
}

void quantize_weight_row(const float* w, int64_t k, int bits, float clip, uint8_t* codes, float* delta,
                         int32_t* zero) {
  int32_t s;
  quantize_row_ref(w, k, k, bits, clip, codes, delta, zero, &s);
}

}  // namespace duq::kernels::detail
