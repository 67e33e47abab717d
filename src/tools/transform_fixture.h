// The activation transform the GEMM benchmarks time (`duquant bench gemm` and bench/gemm_bench.cc): Λ⁻¹, R1, a
// random P, R2 on K columns in blocks of b (no tail), as exact fp32 rotations and as int16 rotations.
#pragma once
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "kernels/act_quant.h"

namespace duq::tools {

struct TransformFixture {
  std::vector<float> inv_s, r1, r2;
  std::vector<int32_t> perm;
  kernels::ActTransform t;  // exact fp32 rotations
  kernels::Int16Rotation i1, i2;
  kernels::ActTransform ti;  // the same with integer rotations (kernels::Int16Rotation)
  TransformFixture(int64_t kk, int64_t b) {
    Rng rng(4);
    inv_s.resize(static_cast<size_t>(kk));
    for (auto& v : inv_s) v = static_cast<float>(0.5 + rng.uniform());
    r1.resize(static_cast<size_t>(b * b));
    r2.resize(static_cast<size_t>(b * b));
    for (auto& v : r1) v = static_cast<float>(rng.normal() * 0.09);
    for (auto& v : r2) v = static_cast<float>(rng.normal() * 0.09);
    perm.resize(static_cast<size_t>(kk));
    std::iota(perm.begin(), perm.end(), 0);
    for (int64_t i = kk - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[rng.below(static_cast<uint64_t>(i + 1))]);
    t.block = b;
    t.inv_scale = inv_s.data();
    t.r1 = r1.data();
    t.perm = perm.data();
    t.r2 = r2.data();
    i1 = kernels::make_int16_rotation(r1.data(), b, nullptr, 0);
    i2 = kernels::make_int16_rotation(r2.data(), b, nullptr, 0);
    ti = t;
    ti.r1_int = &i1;
    ti.r2_int = &i2;
  }
  TransformFixture(const TransformFixture&) = delete;  // ti points at i1, i2
};

}  // namespace duq::tools
