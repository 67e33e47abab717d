// Integer (int16) rotation steps of the activation transform: fused Λ⁻¹ / P equal the chained steps, the
// approximation of the exact transform, the int32 overflow bound, degenerate rows.
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
#include "kernels/act_quant.h"
#include "kernels/gemm_f32.h"

namespace duq::kernels {
namespace {

using duq::test::available_isas;
using duq::test::IsaScope;
using duq::test::random_mat;
using test::expect_same;
using test::make_transform;
using test::TransformData;

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
                        {5, 203, 37, false},   {2, 45, 64, false},   {3, 19, 8, true}};
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
    x(1, c.k / 3) = 1000.f;                                                        // a 1000× outlier
    Mat y(x.rows(), c.k);
    apply_act_transform(x, t, y);
    double worst = 0, ms = 0;
    for (int64_t i = 0; i < x.rows(); ++i) {
      const double e = rel_error(y.row(i), exact_row(x.row(i), d, d.perm));
      worst = std::max(worst, e);
      ms += e * e;
    }
    std::printf(
        "  k=%lld b=%lld: relative error of the int16 transform, RMS over rows %.2e, worst %.2e "
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
      h[static_cast<size_t>(i * w + j)] =
          (__builtin_popcountll(static_cast<uint64_t>(i & j)) & 1 ? -1.f : 1.f) / std::sqrt(static_cast<float>(w));
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
      auto rq = [&](int64_t i, int64_t j) {
        return int64_t{q.full[static_cast<size_t>(i / 2 * 2 * b + 2 * j + (i & 1))]};
      };
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

// Degenerate blocks among many in one row: the AVX-512 path computes the block scales 16 blocks at a time
// (the rest one by one), so zero, tiny (denormal max), inf and NaN blocks sit in both parts. Every path must
// give the scalar reference's output (NaN where the reference has NaN), and with R1 alone the blocks stay
// separate: zero → 0, tiny → 0, inf / NaN → NaN, a normal block next to them unaffected.
TEST(ActTransformInt16, DegenerateBlocksAmongManyMatchReference) {
  Rng rng(35);
  const int64_t b = 8, nb = 40, k = b * nb;
  TransformData d = make_orthogonal_transform(rng, k, b, false);
  Mat x = random_mat(rng, 2, k);
  auto fill = [&](int64_t blk, float v) {
    for (int64_t j = 0; j < b; ++j) x(0, blk * b + j) = v;
  };
  fill(3, 0.f);
  fill(5, 1e-39f);  // denormal
  fill(36, 1e-40f);
  fill(33, 0.f);
  x(0, 17 * b + 2) = std::numeric_limits<float>::infinity();
  x(0, 20 * b + 5) = -std::numeric_limits<float>::infinity();
  x(0, 38 * b + 1) = std::numeric_limits<float>::quiet_NaN();
  const ActTransform full = d.integer();
  ActTransform r1_only;
  r1_only.block = b;
  r1_only.r1 = full.r1, r1_only.r1_int = full.r1_int;
  for (const ActTransform* t : {static_cast<const ActTransform*>(&r1_only), &full}) {
    Mat yref(2, k);
    {
      IsaScope scope(Isa::Scalar);
      apply_act_transform(x, *t, yref);
    }
    if (t == &r1_only) {
      for (int64_t blk : {3, 5, 33, 36})
        for (int64_t j = 0; j < b; ++j) EXPECT_EQ(yref(0, blk * b + j), 0.f) << blk;
      for (int64_t blk : {17, 20, 38})
        for (int64_t j = 0; j < b; ++j) EXPECT_TRUE(std::isnan(yref(0, blk * b + j))) << blk;
      for (int64_t j = 0; j < b; ++j) EXPECT_TRUE(std::isfinite(yref(0, 4 * b + j)) && yref(0, 4 * b + j) != 0.f);
    }
    for (Isa isa : available_isas()) {
      IsaScope scope(isa);
      Mat y(2, k);
      apply_act_transform(x, *t, y);
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < k; ++j) {
          if (std::isnan(yref(i, j))) EXPECT_TRUE(std::isnan(y(i, j))) << isa_name(isa) << " " << i << "," << j;
          else ASSERT_EQ(y(i, j), yref(i, j)) << isa_name(isa) << " " << i << "," << j;
        }
    }
  }
}

}  // namespace
}  // namespace duq::kernels
