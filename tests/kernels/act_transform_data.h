// Shared by the activation-transform tests (act_quant_test.cc, act_transform_int16_test.cc): a random
// transform (Λ⁻¹, R1, P, R2 with optional tails) and its integer form, and bit-for-bit QuantActs comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "kernels/act_quant.h"

namespace duq::kernels::test {

inline void expect_same(const QuantActs& a, const QuantActs& b, const std::string& what) {
  ASSERT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.cols_pad, b.cols_pad);
  EXPECT_EQ(a.codes, b.codes) << what;
  EXPECT_EQ(a.zero, b.zero) << what;
  EXPECT_EQ(a.sum, b.sum) << what;
  EXPECT_EQ(std::memcmp(a.scale.data(), b.scale.data(), a.scale.size() * sizeof(float)), 0) << what;
}

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

inline TransformData make_transform(Rng& rng, int64_t k, int64_t b, bool with_scale, bool with_perm, bool with_tail) {
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

}  // namespace duq::kernels::test
