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

#include "kernel_test_util.h"
#include "kernels/gemm_f32.h"

namespace duq::kernels {
namespace {

using test::available_isas;
using test::IsaScope;
using test::random_mat;

QuantActs quant(ConstMatView x, int bits, float clip, Isa isa) {
  IsaScope scope(isa);
  QuantActs q;
  quantize_acts(x, bits, clip, q);
  return q;
}

void expect_same(const QuantActs& a, const QuantActs& b, const std::string& what) {
  ASSERT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.cols_pad, b.cols_pad);
  EXPECT_EQ(a.codes, b.codes) << what;
  EXPECT_EQ(a.zero, b.zero) << what;
  EXPECT_EQ(a.sum, b.sum) << what;
  EXPECT_EQ(std::memcmp(a.scale.data(), b.scale.data(), a.scale.size() * sizeof(float)), 0) << what;
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
  for (const Hit& h : hits) {
    std::vector<float> r(37, h.x);  // 37: a full vector and a masked tail
    r[0] = h.lo;
    r[20] = h.hi;
    const QuantActs ref = quant(ConstMatView(r.data(), 1, 37), h.bits, 1.f, Isa::Scalar);
    for (Isa isa : available_isas())
      expect_same(quant(ConstMatView(r.data(), 1, 37), h.bits, 1.f, isa), ref, std::string(isa_name(isa)) + " hit");
  }
  // Δ clamps at 1e-5: |x/Δ| ~ 1e6 (beyond the fast path's 2^19), and overflow to ±inf for |x| ~ 1e34
  const float rows[][5] = {{10.f, 10.f, 10.00001f, 10.f, 10.f},
                           {-7.f, -7.f, -7.f, -7.00001f, -7.f},
                           {1e34f, 1e34f, 1e34f, 1e34f, 1e34f},
                           {-3e35f, -3e35f, -3e35f, -3e35f, -3e35f},
                           {1e30f, -1e30f, 0.f, 5e29f, -2.5e29f}};
  for (const auto& r : rows)
    for (int bits : {4, 8}) {
      const QuantActs ref = quant(ConstMatView(r, 1, 5), bits, 1.f, Isa::Scalar);
      for (Isa isa : available_isas()) expect_same(quant(ConstMatView(r, 1, 5), bits, 1.f, isa), ref, isa_name(isa));
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

struct TransformData {
  int64_t k = 0, b = 0;
  std::vector<float> inv_s, r1, r1t, r2, r2t;
  std::vector<int32_t> perm;
  ActTransform t;
  std::shared_ptr<Int16Rotation> i1, i2;  // integer forms (stable addresses when the struct moves)
  // t with both rotation steps in integer arithmetic (the engine's path)
  ActTransform integer() {
    if (!i1) {
      const int64_t tail = r1t.empty() ? 0 : k % b;
      i1 = std::make_shared<Int16Rotation>(make_int16_rotation(r1.data(), b, tail ? r1t.data() : nullptr, tail));
      i2 = std::make_shared<Int16Rotation>(make_int16_rotation(r2.data(), b, tail ? r2t.data() : nullptr, tail));
    }
    ActTransform u = t;
    u.r1_int = i1.get();
    u.r2_int = i2.get();
    return u;
  }
};

TransformData make_transform(Rng& rng, int64_t k, int64_t b, bool with_scale, bool with_perm, bool with_tail) {
  TransformData d;
  d.k = k;
  d.b = b;
  const int64_t tail = k % b;
  auto rnd = [&](std::vector<float>& v, int64_t n) {
    v.resize(static_cast<size_t>(n));
    for (auto& e : v) e = static_cast<float>(rng.normal() / std::sqrt(static_cast<double>(b)));
  };
  rnd(d.r1, b * b);
  rnd(d.r2, b * b);
  if (with_tail && tail) {
    rnd(d.r1t, tail * tail);
    rnd(d.r2t, tail * tail);
  }
  if (with_scale) {
    d.inv_s.resize(static_cast<size_t>(k));
    for (auto& e : d.inv_s) e = static_cast<float>(0.25 + rng.uniform());
  }
  if (with_perm) {
    d.perm.resize(static_cast<size_t>(k));
    std::iota(d.perm.begin(), d.perm.end(), 0);
    for (int64_t i = k - 1; i > 0; --i) std::swap(d.perm[i], d.perm[rng.below(static_cast<uint64_t>(i + 1))]);
  }
  d.t.block = b;
  d.t.inv_scale = d.inv_s.empty() ? nullptr : d.inv_s.data();
  d.t.r1 = d.r1.data();
  d.t.r1_tail = d.r1t.empty() ? nullptr : d.r1t.data();
  d.t.perm = d.perm.empty() ? nullptr : d.perm.data();
  d.t.r2 = d.r2.data();
  d.t.r2_tail = d.r2t.empty() ? nullptr : d.r2t.data();
  return d;
}

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
  const Case cases[] = {{7, 16, true, true, true},    {63, 16, true, true, true},  {130, 32, true, true, true},
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
  const Case cases[] = {{29, 512, 128, false}, {51, 300, 128, true}, {25, 300, 128, false},
                        {27, 2048 + 37, 128, true}, {7, 200, 64, true}, {31, 300, 48, true},
                        {13, 301, 37, true}, {3, 37, 37, false}, {26, 515, 256, true}};
  for (const Case& c : cases)
    for (bool integer : {false, true}) {
    TransformData d = make_transform(rng, c.k, c.b, true, true, c.tail_mats);
    const Mat x = random_mat(rng, c.m, c.k);
    for (int mask = 1; mask < 16; ++mask) {  // bit 0: Λ⁻¹, 1: R1, 2: P, 3: R2
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

// Λ⁻¹ is fused into an integer R1's int16 conversion and P into an integer R2's (read from X / gathered by
// perm while converting): the result must equal the unfused chain, each step run alone (a lone step fuses
// nothing), bit for bit on every ISA path. Covers K tails with and without tail matrices (the tail without
// matrix is then written scaled / permuted directly), blocks not a multiple of the vector width, a random perm
// (every block gathers from all the others, so a block's max comes from anywhere in the row), several token
// tiles, and a strided X (the fused R1 reads X itself).
TEST(ActTransformInt16, FusedScaleAndPermEqualChainedSingleSteps) {
  Rng rng(29);
  struct Case {
    int64_t m, k, b;
    bool tail_mats;
  };
  const Case cases[] = {{30, 300, 128, false}, {30, 300, 128, true}, {7, 256, 64, false}, {5, 203, 37, true},
                        {5, 203, 37, false}, {2, 45, 64, false}, {3, 19, 8, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("m=" + std::to_string(c.m) + " k=" + std::to_string(c.k) + " b=" + std::to_string(c.b) +
                 (c.tail_mats ? " tail mats" : ""));
    TransformData d = make_transform(rng, c.k, c.b, true, true, c.tail_mats);
    const ActTransform full = d.integer();
    Mat big = random_mat(rng, c.m, c.k + 9);
    for (int64_t j = 0; j < c.k; j += 5) big(0, j + 3) *= 50.f;  // outlier columns: block maxima after P move
    const ConstMatView x = big.cview().cols_slice(3, c.k);
    ActTransform s1, s2, s3, s4;  // Λ⁻¹ alone, R1 alone, P alone, R2 alone
    s1.inv_scale = full.inv_scale;
    s2.block = s4.block = c.b;
    s2.r1 = full.r1, s2.r1_tail = full.r1_tail, s2.r1_int = full.r1_int;
    s3.perm = full.perm;
    s4.r2 = full.r2, s4.r2_tail = full.r2_tail, s4.r2_int = full.r2_int;
    for (Isa isa : available_isas()) {
      SCOPED_TRACE(isa_name(isa));
      IsaScope scope(isa);
      Mat y1(c.m, c.k), y2(c.m, c.k), y3(c.m, c.k), y4(c.m, c.k), y(c.m, c.k);
      apply_act_transform(x, s1, y1);
      apply_act_transform(y1, s2, y2);
      apply_act_transform(y2, s3, y3);
      apply_act_transform(y3, s4, y4);
      apply_act_transform(x, full, y);
      ASSERT_EQ(std::memcmp(y.data(), y4.data(), static_cast<size_t>(c.m * c.k) * sizeof(float)), 0);
      // R1 and R2 only partly fused: Λ⁻¹ + R1, then P + R2
      ActTransform h1 = s2, h2 = s4;
      h1.inv_scale = full.inv_scale;
      h2.perm = full.perm;
      apply_act_transform(x, h1, y1);
      ASSERT_EQ(std::memcmp(y1.data(), y2.data(), static_cast<size_t>(c.m * c.k) * sizeof(float)), 0);
      apply_act_transform(y2, h2, y1);
      ASSERT_EQ(std::memcmp(y1.data(), y4.data(), static_cast<size_t>(c.m * c.k) * sizeof(float)), 0);
      QuantActs fused, separate;
      transform_quantize_acts(x, full, 4, 0.9f, fused);
      quantize_acts(y4, 4, 0.9f, separate);
      expect_same(fused, separate, "fused codes vs chained steps then quantization");
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

// ---- integer rotation steps ------------------------------------------------------------------------------

// Random orthogonal w×w, row-major (Gram–Schmidt on Gaussian rows, in double).
std::vector<float> random_orthogonal(Rng& rng, int64_t w) {
  std::vector<double> q(static_cast<size_t>(w * w));
  for (auto& v : q) v = rng.normal();
  for (int64_t i = 0; i < w; ++i) {
    double* qi = q.data() + i * w;
    for (int64_t p = 0; p < i; ++p) {
      const double* qp = q.data() + p * w;
      double dot = 0;
      for (int64_t j = 0; j < w; ++j) dot += qi[j] * qp[j];
      for (int64_t j = 0; j < w; ++j) qi[j] -= dot * qp[j];
    }
    double n = 0;
    for (int64_t j = 0; j < w; ++j) n += qi[j] * qi[j];
    for (int64_t j = 0; j < w; ++j) qi[j] /= std::sqrt(n);
  }
  return {q.begin(), q.end()};
}

// make_transform with orthogonal rotations (the engine's case; the error bound below is relative to the norm).
TransformData make_orthogonal_transform(Rng& rng, int64_t k, int64_t b, bool with_tail) {
  TransformData d = make_transform(rng, k, b, true, true, with_tail);
  const int64_t tail = k % b;
  d.r1 = random_orthogonal(rng, b);
  d.r2 = random_orthogonal(rng, b);
  if (with_tail && tail) {
    d.r1t = random_orthogonal(rng, tail);
    d.r2t = random_orthogonal(rng, tail);
  }
  d.t.r1 = d.r1.data();
  d.t.r2 = d.r2.data();
  d.t.r1_tail = d.r1t.empty() ? nullptr : d.r1t.data();
  d.t.r2_tail = d.r2t.empty() ? nullptr : d.r2t.data();
  return d;
}

// X·Λ⁻¹·R1·P·R2 for one row in double, independently of the kernels (perm: the permutation to apply).
std::vector<double> exact_row(const float* x, const TransformData& d, const std::vector<int32_t>& perm) {
  const int64_t k = d.k, b = d.b;
  std::vector<double> a(static_cast<size_t>(k)), c(static_cast<size_t>(k));
  auto rotate = [&](const std::vector<double>& in, std::vector<double>& o, const std::vector<float>& r,
                    const std::vector<float>& rt) {
    for (int64_t c0 = 0; c0 < k; c0 += b) {
      const int64_t w = std::min(b, k - c0);
      const float* m = w == b ? r.data() : rt.data();
      for (int64_t j = 0; j < w; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < w; ++i) acc += in[c0 + i] * (w == b || !rt.empty() ? m[i * w + j] : i == j);
        o[c0 + j] = acc;
      }
    }
  };
  for (int64_t j = 0; j < k; ++j) a[j] = static_cast<double>(x[j]) * d.inv_s[j];
  rotate(a, c, d.r1, d.r1t);
  for (int64_t j = 0; j < k; ++j) a[j] = c[perm[j]];
  rotate(a, c, d.r2, d.r2t);
  return c;
}

// ‖y − exact‖ / ‖exact‖ per row.
double rel_error(const float* y, const std::vector<double>& e) {
  double num = 0, den = 0;
  for (size_t j = 0; j < e.size(); ++j) {
    num += (y[j] - e[j]) * (y[j] - e[j]);
    den += e[j] * e[j];
  }
  return std::sqrt(num / den);
}

// The integer steps approximate the exact transform X·Λ⁻¹·R1·P·R2 (double) to a few 1e-4 relative per row
// (measured, two rotations: b = 128 RMS 3.6e-4 / worst 4.3e-4, b = 64 1.9e-4 / 2.6e-4, b = 256 6.8e-4 /
// 7.2e-4), including a row with a 1000× outlier (each block's int16 rounding is relative to that block's max).
// A wrong permutation, scale or matrix is an O(1) error; the last check proves the comparison can tell.
TEST(ActTransformInt16, ApproximatesExactTransform) {
  Rng rng(31);
  struct Case {
    int64_t k, b;
    bool tail;
  };
  const Case cases[] = {{4096, 128, false}, {300, 128, true}, {515, 256, true}, {200, 64, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE("k=" + std::to_string(c.k) + " b=" + std::to_string(c.b));
    TransformData d = make_orthogonal_transform(rng, c.k, c.b, c.tail);
    const ActTransform t = d.integer();
    Mat x = random_mat(rng, 8, c.k);
    for (int64_t j = 0; j < c.k; ++j) x(0, j) = static_cast<float>(rng.normal());  // no outlier
    x(1, c.k / 3) = 1000.f;                                                         // a 1000× outlier
    Mat y(x.rows(), c.k);
    apply_act_transform(x, t, y);
    double worst = 0, ms = 0;
    for (int64_t i = 0; i < x.rows(); ++i) {
      const double e = rel_error(y.row(i), exact_row(x.row(i), d, d.perm));
      worst = std::max(worst, e);
      ms += e * e;
    }
    std::printf("  k=%lld b=%lld: relative error of the int16 transform, RMS over rows %.2e, worst %.2e "
                "(1000x-outlier row %.2e)\n",
                static_cast<long long>(c.k), static_cast<long long>(c.b), std::sqrt(ms / x.rows()), worst,
                rel_error(y.row(1), exact_row(x.row(1), d, d.perm)));
    EXPECT_LT(worst, c.b > 128 ? 1e-3 : 6e-4);
    // sensitivity: against the exact transform with another permutation the same output is far off
    std::vector<int32_t> other(d.perm);
    std::swap(other[0], other[c.k - 1]);
    std::reverse(other.begin() + 1, other.begin() + c.k / 2);
    EXPECT_GT(rel_error(y.row(0), exact_row(x.row(0), d, other)), 1e-2);
  }
}

// Sylvester Hadamard / √w (every column at the largest possible L1 norm for an orthogonal matrix).
std::vector<float> hadamard(int64_t w) {
  std::vector<float> h(static_cast<size_t>(w * w));
  for (int64_t i = 0; i < w; ++i)
    for (int64_t j = 0; j < w; ++j)
      h[static_cast<size_t>(i * w + j)] = (__builtin_popcountll(static_cast<uint64_t>(i & j)) & 1 ? -1.f : 1.f) /
                                          std::sqrt(static_cast<float>(w));
  return h;
}

// An all-max row aligned with the signs of the matrix column of largest L1 norm drives that column's int32
// sum to amax·Lq, the top of the documented bound, which must use at least half of int32 and not wrap.
TEST(ActTransformInt16, AdversarialRowAtTheOverflowBound) {
  Rng rng(32);
  for (int64_t b : {64, 128, 256, 1024}) {
    for (int kind = 0; kind < 3; ++kind) {  // Hadamard, random orthogonal, near-identity (entries near 1)
      SCOPED_TRACE("b=" + std::to_string(b) + " kind=" + std::to_string(kind));
      std::vector<float> r = kind == 0 ? hadamard(b) : random_orthogonal(rng, b);
      if (kind == 2)
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < b; ++j) r[i * b + j] = i == j ? 0.99f : r[i * b + j] * 0.1f;
      const Int16Rotation q = make_int16_rotation(r.data(), b, nullptr, 0);
      auto rq = [&](int64_t i, int64_t j) { return int64_t{q.full[static_cast<size_t>(i / 2 * 2 * b + 2 * j + (i & 1))]}; };
      int64_t jmax = 0, lmax = -1;
      for (int64_t j = 0; j < b; ++j) {
        int64_t l = 0;
        for (int64_t i = 0; i < b; ++i) {
          ASSERT_EQ(rq(i, j), static_cast<int64_t>(std::nearbyint(static_cast<double>(r[i * b + j]) * q.scale)));
          l += std::abs(rq(i, j));
        }
        if (l > lmax) lmax = l, jmax = j;
      }
      const int64_t bound = int64_t{q.amax} * lmax;
      EXPECT_LE(bound, int64_t{INT32_MAX});
      EXPECT_GT(bound, int64_t{1} << 30);
      Mat x(2, b);
      for (int64_t i = 0; i < b; ++i) {
        x(0, i) = rq(i, jmax) < 0 ? -3.f : 3.f;  // a16 = ±amax, the sum = +amax·Lq
        x(1, i) = -x(0, i);                      // and −amax·Lq
      }
      ActTransform t;
      t.block = b;
      t.r1 = r.data();
      t.r1_int = &q;
      const float expect = static_cast<float>(bound) * (3.f * q.out_scale);
      for (Isa isa : available_isas()) {
        IsaScope scope(isa);
        Mat y(2, b);
        apply_act_transform(x, t, y);
        EXPECT_EQ(y(0, jmax), expect) << isa_name(isa);
        EXPECT_EQ(y(1, jmax), -expect) << isa_name(isa);
      }
      double exact = 0;  // the float matrix's own value, Σ_i 3·|R_ij| (up to the int16 rounding of R)
      for (int64_t i = 0; i < b; ++i) exact += 3.0 * std::abs(r[i * b + jmax]) * (rq(i, jmax) == 0 ? 0 : 1);
      EXPECT_NEAR(expect, exact, 2e-3 * exact);
    }
  }
}

// Zero, tiny and non-finite rows: zeros, zeros, NaN (documented in act_quant.h), the same on every path.
TEST(ActTransformInt16, DegenerateRows) {
  Rng rng(33);
  TransformData d = make_orthogonal_transform(rng, 200, 64, true);
  const ActTransform t = d.integer();
  Mat x(3, 200);
  x(1, 5) = 1e-38f;
  x(2, 7) = std::numeric_limits<float>::infinity();
  for (Isa isa : available_isas()) {
    IsaScope scope(isa);
    Mat y(3, 200);
    apply_act_transform(x, t, y);
    for (int64_t j = 0; j < 200; ++j) {
      EXPECT_EQ(y(0, j), 0.f) << isa_name(isa);
      EXPECT_EQ(y(1, j), 0.f) << isa_name(isa);
      EXPECT_TRUE(std::isnan(y(2, j))) << isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace duq::kernels
