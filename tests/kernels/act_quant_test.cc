// Per-token activation quantization: hand-worked codes, every ISA path bit-identical to the scalar
// reference, and the fused transform + quantization equal to the separate float transform followed by
// quantization.
#include "kernels/act_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "act_transform_data.h"
#include "kernel_test_util.h"
#include "kernels/gemm_f32.h"

namespace duq::kernels {
namespace {

using duq::test::available_isas;
using duq::test::IsaScope;
using duq::test::random_mat;
using test::expect_same;
using test::make_transform;
using test::TransformData;

QuantActs quant(ConstMatView x, int bits, float clip, Isa isa) {
  IsaScope scope(isa);
  QuantActs q;
  quantize_acts(x, bits, clip, q);
  return q;
}

std::vector<uint8_t> row_codes(const QuantActs& q, int64_t m) { return {q.row(m), q.row(m) + q.cols}; }

TEST(ActQuant, HandWorkedExamples) {
  for (Isa isa : available_isas()) {
    SCOPED_TRACE(isa_name(isa));
    {  // 4 bits: Δ = 15/15 = 1, z = 1; 2.5 and 3.5 are ties (half to even), −0.5 → −0
      const float v[] = {-1.f, 2.5f, 3.5f, -0.5f, 14.f};
      const QuantActs q = quant(ConstMatView(v, 1, 5), 4, 1.f, isa);
      EXPECT_EQ(row_codes(q, 0), (std::vector<uint8_t>{0, 3, 5, 1, 15}));
      EXPECT_EQ(q.scale[0], 1.f);
      EXPECT_EQ(q.zero[0], 1);
      EXPECT_EQ(q.sum[0], 24);
      EXPECT_EQ(q.cols_pad, 64);
      for (int64_t j = 5; j < 64; ++j) EXPECT_EQ(q.row(0)[j], 0);
    }
    {  // clip 0.5: xmin = −0.5, xmax = 7, Δ = 0.5, z = 1; −1 clamps to 0, 14 clamps to 15
      const float v[] = {-1.f, 2.5f, 3.5f, -0.5f, 14.f};
      const QuantActs q = quant(ConstMatView(v, 1, 5), 4, 0.5f, isa);
      EXPECT_EQ(row_codes(q, 0), (std::vector<uint8_t>{0, 6, 8, 0, 15}));
      EXPECT_EQ(q.scale[0], 0.5f);
      EXPECT_EQ(q.zero[0], 1);
      EXPECT_EQ(q.sum[0], 29);
    }
    {  // 8 bits: Δ = 3/255, z = 0
      const float v[] = {0.f, 1.f, 2.f, 3.f};
      const QuantActs q = quant(ConstMatView(v, 1, 4), 8, 1.f, isa);
      EXPECT_EQ(row_codes(q, 0), (std::vector<uint8_t>{0, 85, 170, 255}));
      EXPECT_EQ(q.zero[0], 0);
      EXPECT_EQ(q.sum[0], 510);
    }
    {  // all positive: negative zero point
      const float v[] = {1.f, 2.f};
      const QuantActs q = quant(ConstMatView(v, 1, 2), 4, 1.f, isa);
      EXPECT_EQ(row_codes(q, 0), (std::vector<uint8_t>{0, 15}));
      EXPECT_EQ(q.zero[0], -15);
    }
    {  // constant row: Δ clamps at 1e-5 and the zero point carries the value
      const float v[] = {3.f, 3.f, 3.f};
      const QuantActs q = quant(ConstMatView(v, 1, 3), 4, 1.f, isa);
      EXPECT_EQ(q.scale[0], 1e-5f);
      const Mat d = dequantize_acts(q);
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(d(0, j), 3.f, 1e-4f);
    }
  }
}

TEST(ActQuant, AllIsaPathsBitIdentical) {
  Rng rng(11);
  for (int bits : {2, 4, 6, 8})
    for (int64_t m : {1, 3, 17})
      for (int64_t k : {1, 7, 8, 16, 63, 130, 300}) {
        Mat x = random_mat(rng, m, k);
        // exact ties: multiples of a power-of-two step
        if (k > 4)
          for (int64_t i = 0; i < m; ++i) x(i, 2) = std::ldexp(static_cast<float>(rng.below(64)) + 0.5f, -3);
        const QuantActs ref = quant(x, bits, 0.9f, Isa::Scalar);
        for (Isa isa : available_isas())
          expect_same(quant(x, bits, 0.9f, isa), ref, std::string(isa_name(isa)) + " k=" + std::to_string(k));
      }
}

// Quotients x/Δ at, and a few ulps either side of, half-integers with Δ not a power of two (the AVX-512
// path rounds x·RN(1/Δ) and must fall back to the division exactly where that could differ), plus rows
// whose quotients are huge or overflow (Δ clamped at 1e-5).
TEST(ActQuant, NearTiesAndHugeQuotientsBitIdentical) {
  Rng rng(14);
  for (int bits : {4, 8}) {
    const int qmax = (1 << bits) - 1;
    for (int trial = 0; trial < 40; ++trial) {
      const int64_t k = 37 + static_cast<int64_t>(rng.below(300));
      Mat x(3, k);
      for (int64_t i = 0; i < 3; ++i) {
        const float lo = -static_cast<float>(rng.uniform()) * 3.f, hi = 0.1f + static_cast<float>(rng.uniform()) * 5.f;
        const float d = (hi - lo) / static_cast<float>(qmax);  // Δ as quant_params computes it (clip 1)
        x(i, 0) = lo;
        x(i, 1) = hi;
        for (int64_t j = 2; j < k; ++j) {
          const float h = (static_cast<float>(rng.below(static_cast<uint64_t>(qmax))) + 0.5f) * d + lo;
          float v = std::min(std::max(h, lo), hi);
          const int steps = static_cast<int>(rng.below(7)) - 3;  // −3 … +3 ulps
          for (int s = 0; s < std::abs(steps); ++s) v = std::nextafter(v, steps > 0 ? hi : lo);
          x(i, j) = v;
        }
      }
      const QuantActs ref = quant(x, bits, 1.f, Isa::Scalar);
      for (Isa isa : available_isas())
        expect_same(quant(x, bits, 1.f, isa), ref, std::string(isa_name(isa)) + " trial " + std::to_string(trial));
    }
  }
  // Found by search: rows {lo, hi, x} (Δ = (hi − lo)/qmax) where round(x·RN(1/Δ)) ≠ round(RN(x/Δ)), about
  // one value in 10^7 at 4 bits: a path that skips the division fallback fails here.
  struct Hit {
    int bits;
    float lo, hi, x;
  };
  const Hit hits[] = {{4, -0.220565856f, 0.882264495f, 0.624937236f}, {4, -1.55471396f, 3.10943007f, 2.64301515f},
                      {4, -2.6244719f, 2.99939632f, 2.43700957f},     {4, -1.2936219f, 0.470408231f, -1.23482108f},
                      {4, -0.966004908f, 3.86401939f, 1.12700558f},   {4, -1.68940902f, 1.12627268f, -1.22012877f},
                      {4, -2.64787793f, 2.31689358f, 0.496477097f},   {4, -0.764710665f, 4.970613f, 2.86766171f},
                      {8, -0.0157998465f, 1.3272053f, 1.18237126f},   {8, -0.827041388f, 3.07843351f, 2.932935f},
                      {8, -0.530559003f, 3.33493948f, 1.56893766f},   {8, -2.49449205f, 0.477916509f, -1.35798275f}};
  for (const Hit& h : hits)
    for (int64_t n : {37, 101}) {  // a full vector and a masked tail; AVX-512's 64-code groups, then the tail
      std::vector<float> r(static_cast<size_t>(n), h.x);
      r[0] = h.lo;
      r[20] = h.hi;
      const QuantActs ref = quant(ConstMatView(r.data(), 1, n), h.bits, 1.f, Isa::Scalar);
      for (Isa isa : available_isas())
        expect_same(quant(ConstMatView(r.data(), 1, n), h.bits, 1.f, isa), ref, std::string(isa_name(isa)) + " hit");
    }
  // Δ clamps at 1e-5: |x/Δ| ~ 1e6 (beyond the fast path's 2^19), and overflow to ±inf for |x| ~ 1e34
  const float rows[][5] = {{10.f, 10.f, 10.00001f, 10.f, 10.f},
                           {-7.f, -7.f, -7.f, -7.00001f, -7.f},
                           {1e34f, 1e34f, 1e34f, 1e34f, 1e34f},
                           {-3e35f, -3e35f, -3e35f, -3e35f, -3e35f},
                           {1e30f, -1e30f, 0.f, 5e29f, -2.5e29f}};
  for (const auto& r : rows)
    for (int64_t n : {5, 70})  // 70: the row repeated, through AVX-512's 64-code groups and the tail
      for (int bits : {4, 8}) {
        std::vector<float> v(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) v[static_cast<size_t>(j)] = r[j % 5];
        const QuantActs ref = quant(ConstMatView(v.data(), 1, n), bits, 1.f, Isa::Scalar);
        for (Isa isa : available_isas())
          expect_same(quant(ConstMatView(v.data(), 1, n), bits, 1.f, isa), ref, isa_name(isa));
      }
}

TEST(ActQuant, StridedInputView) {
  Rng rng(12);
  Mat big = random_mat(rng, 5, 100);
  ConstMatView x = big.cview().cols_slice(3, 70);
  const Mat dense(x);
  for (Isa isa : available_isas()) expect_same(quant(x, 4, 1.f, isa), quant(dense, 4, 1.f, Isa::Scalar), isa_name(isa));
}

TEST(ActQuant, ErrorWithinHalfStep) {
  Rng rng(13);
  const Mat x = random_mat(rng, 4, 256);
  const QuantActs q = quant(x, 8, 1.f, kernels::active_isa());
  const Mat d = dequantize_acts(q);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 256; ++j) EXPECT_LE(std::abs(d(i, j) - x(i, j)), 0.5f * q.scale[i] * 1.001f);
}

// ---- fused transform ------------------------------------------------------------------------------------

// The transform written out independently: scale, blockwise R1, permute, blockwise R2, each output a
// sequential chain (product, then fma over increasing i), as act_quant.h specifies.
Mat transform_by_hand(const Mat& x, const TransformData& d) {
  const int64_t k = d.k, b = d.b, nb = k / b, tail = k - nb * b;
  Mat out(x.rows(), k);
  std::vector<float> a(k), c(k);
  auto rotate = [&](const std::vector<float>& in, std::vector<float>& o, const std::vector<float>& r,
                    const std::vector<float>& rt) {
    for (int64_t blk = 0; blk <= nb; ++blk) {
      const int64_t c0 = blk * b, w = blk < nb ? b : tail;
      const float* m = blk < nb ? r.data() : rt.data();
      if (w == 0) continue;
      if (blk == nb && rt.empty()) {
        for (int64_t j = 0; j < w; ++j) o[c0 + j] = in[c0 + j];
        continue;
      }
      for (int64_t j = 0; j < w; ++j) {
        float acc = in[c0] * m[j];
        for (int64_t i = 1; i < w; ++i) acc = std::fma(in[c0 + i], m[i * w + j], acc);
        o[c0 + j] = acc;
      }
    }
  };
  for (int64_t t = 0; t < x.rows(); ++t) {
    for (int64_t j = 0; j < k; ++j) a[j] = d.inv_s.empty() ? x(t, j) : x(t, j) * d.inv_s[j];
    rotate(a, c, d.r1, d.r1t);
    for (int64_t j = 0; j < k; ++j) a[j] = d.perm.empty() ? c[j] : c[d.perm[j]];
    rotate(a, c, d.r2, d.r2t);
    for (int64_t j = 0; j < k; ++j) out(t, j) = c[j];
  }
  return out;
}

// Dense G [K×K] = Λ⁻¹·R̂₁·P·R̂₂ so that the transform is one float matmul X·G.
Mat dense_transform(const TransformData& d) {
  const int64_t k = d.k, b = d.b, nb = k / b, tail = k - nb * b;
  auto blockdiag = [&](const std::vector<float>& r, const std::vector<float>& rt) {
    Mat m(k, k);
    for (int64_t blk = 0; blk < nb; ++blk)
      for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) m(blk * b + i, blk * b + j) = r[i * b + j];
    for (int64_t i = 0; i < tail; ++i)
      for (int64_t j = 0; j < tail; ++j)
        m(nb * b + i, nb * b + j) = rt.empty() ? (i == j ? 1.f : 0.f) : rt[i * tail + j];
    return m;
  };
  Mat g = blockdiag(d.r1, d.r1t);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) g(i, j) *= d.inv_s.empty() ? 1.f : d.inv_s[i];
  if (!d.perm.empty()) {
    Mat gp(k, k);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) gp(i, j) = g(i, d.perm[j]);
    g = gp;
  }
  Mat out(k, k);
  matmul(g, blockdiag(d.r2, d.r2t), out);
  return out;
}

TEST(ActTransform, FusedEqualsSeparateTransformThenQuant) {
  Rng rng(21);
  struct Case {
    int64_t k, b;
    bool scale, perm, tail;
  };
  const Case cases[] = {{7, 16, true, true, true},      {63, 16, true, true, true},  {130, 32, true, true, true},
                        {130, 32, false, false, false}, {300, 64, true, true, true}, {256, 128, true, true, false},
                        {300, 128, false, true, false}, {96, 24, true, false, true}};
  for (const Case& c : cases)
    for (int64_t m : {1, 5, 17}) {
      SCOPED_TRACE("k=" + std::to_string(c.k) + " b=" + std::to_string(c.b) + " m=" + std::to_string(m));
      TransformData d = make_transform(rng, c.k, c.b, c.scale, c.perm, c.tail);
      const Mat x = random_mat(rng, m, c.k);
      const Mat xt = transform_by_hand(x, d);
      // the hand-written chain agrees with a float matmul by the dense G
      const Mat g = dense_transform(d);
      Mat xg(m, c.k);
      matmul(x, g, xg);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < c.k; ++j) ASSERT_NEAR(xt(i, j), xg(i, j), 1e-4f * (1.f + std::abs(xg(i, j))));
      for (Isa isa : available_isas()) {
        SCOPED_TRACE(isa_name(isa));
        IsaScope scope(isa);
        Mat y(m, c.k);
        apply_act_transform(x, d.t, y);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < c.k; ++j) ASSERT_EQ(y(i, j), xt(i, j)) << i << "," << j;
        for (int bits : {4, 8}) {
          QuantActs fused, separate;
          transform_quantize_acts(x, d.t, bits, 0.9f, fused);
          quantize_acts(xt, bits, 0.9f, separate);
          expect_same(fused, separate, "bits " + std::to_string(bits));
          // the integer steps: fused equals its own transform followed by quantization
          Mat yi(m, c.k);
          apply_act_transform(x, d.integer(), yi);
          transform_quantize_acts(x, d.integer(), bits, 0.9f, fused);
          quantize_acts(yi, bits, 0.9f, separate);
          expect_same(fused, separate, "integer, bits " + std::to_string(bits));
        }
      }
    }
}

// Shapes the engine and the tiled AVX-512 path meet: many tiles of tokens (odd counts, the last tile
// partial), wide K with and without a tail block (K not a multiple of the block or of 16), and every
// subset of the steps (the fused per-token min/max is only used when R2 is present). ISA paths must agree
// bit for bit with the scalar reference, for the float transform and for the codes.
TEST(ActTransform, TiledShapesAndStepSubsetsBitIdentical) {
  Rng rng(23);
  struct Case {
    int64_t m, k, b;
    bool tail_mats;
  };
  const Case cases[] = {{29, 512, 128, false},      {51, 300, 128, true}, {25, 300, 128, false},
                        {27, 2048 + 37, 128, true}, {7, 200, 64, true},   {31, 300, 48, true},
                        {13, 301, 37, true},        {3, 37, 37, false},   {26, 515, 256, true}};
  for (const Case& c : cases)
    for (bool integer : {false, true}) {
      TransformData d = make_transform(rng, c.k, c.b, true, true, c.tail_mats);
      const Mat x = random_mat(rng, c.m, c.k);
      for (int mask = 1; mask < 16; ++mask) {                               // bit 0: Λ⁻¹, 1: R1, 2: P, 3: R2
        if (c.k > 1000 && mask != 15 && mask != 7 && mask != 11) continue;  // the big case: full, no R2, no P
        ActTransform t = integer ? d.integer() : d.t;
        if (!(mask & 1)) t.inv_scale = nullptr;
        if (!(mask & 2)) t.r1 = t.r1_tail = nullptr, t.r1_int = nullptr;
        if (!(mask & 4)) t.perm = nullptr;
        if (!(mask & 8)) t.r2 = t.r2_tail = nullptr, t.r2_int = nullptr;
        SCOPED_TRACE("m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " b=" + std::to_string(c.b) +
                     " steps=" + std::to_string(mask) + (integer ? " integer" : " float"));
        // reference: the scalar float transform, then scalar quantization (the scalar fused path is checked
        // against that split in FusedEqualsSeparateTransformThenQuant)
        Mat yref(c.m, c.k);
        QuantActs qref;
        {
          IsaScope scope(Isa::Scalar);
          apply_act_transform(x, t, yref);
          quantize_acts(yref, 4, 0.9f, qref);
        }
        for (Isa isa : available_isas()) {
          if (isa == Isa::Scalar) continue;
          SCOPED_TRACE(isa_name(isa));
          IsaScope scope(isa);
          Mat y(c.m, c.k);
          apply_act_transform(x, t, y);
          ASSERT_EQ(std::memcmp(y.data(), yref.data(), static_cast<size_t>(c.m * c.k) * sizeof(float)), 0);
          QuantActs q;
          transform_quantize_acts(x, t, 4, 0.9f, q);
          expect_same(q, qref, "fused codes vs scalar transform then quantization");
        }
      }
    }
}

TEST(ActTransform, IdentityRotationsLeaveQuantizationUnchanged) {
  Rng rng(22);
  const int64_t k = 200, b = 64;
  std::vector<float> eye(b * b, 0.f);
  for (int64_t i = 0; i < b; ++i) eye[i * b + i] = 1.f;
  ActTransform t;
  t.block = b;
  t.r1 = eye.data();
  t.r2 = eye.data();
  const Mat x = random_mat(rng, 9, k);
  for (Isa isa : available_isas()) {
    IsaScope scope(isa);
    QuantActs a, ref;
    transform_quantize_acts(x, t, 4, 1.f, a);
    quantize_acts(x, 4, 1.f, ref);
    expect_same(a, ref, isa_name(isa));
  }
}

}  // namespace
}  // namespace duq::kernels
