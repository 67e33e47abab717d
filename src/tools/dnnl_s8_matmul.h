// The oneDNN peer of the integer GEMM benchmarks (`duquant bench gemm` and bench/gemm_bench.cc): matmul
// u8 × s8 → f32 with per-output-channel scales, weights reordered once into the layout the primitive
// prefers (what a oneDNN-based engine would store). Random codes (the time does not depend on them).
// Only where oneDNN (Debian libdnnl-dev) was found: DUQ_HAVE_DNNL.
#pragma once
#if defined(DUQ_HAVE_DNNL)
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace duq::tools {

class DnnlS8Matmul {
 public:
  // Y [m×n] = X [m×k] (u8) · W [n×k]ᵀ (s8), W given row-major.
  DnnlS8Matmul(int64_t m, int64_t n, int64_t k) : eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    using namespace dnnl;
    const memory::desc src_md({m, k}, memory::data_type::u8, memory::format_tag::ab);
    const memory::desc wei_any({k, n}, memory::data_type::s8, memory::format_tag::any);
    const memory::desc wei_user({k, n}, memory::data_type::s8, memory::format_tag::ba);  // W [N×K] row-major
    const memory::desc dst_md({m, n}, memory::data_type::f32, memory::format_tag::ab);
    primitive_attr attr;
    std::vector<float> scales(static_cast<size_t>(n), 1e-3f);
    attr.set_output_scales(1 << 1, scales);
    const matmul::primitive_desc pd(matmul::desc(src_md, wei_any, dst_md), attr, eng_);
    Rng rng(3);
    xs_.resize(static_cast<size_t>(m * k));
    ws_.resize(static_cast<size_t>(n * k));
    for (auto& v : xs_) v = static_cast<uint8_t>(rng.below(16));
    for (auto& v : ws_) v = static_cast<int8_t>(static_cast<int>(rng.below(16)) - 8);
    ys_.resize(static_cast<size_t>(m * n));
    src_ = memory(src_md, eng_, xs_.data());
    dst_ = memory(dst_md, eng_, ys_.data());
    memory wei_u(wei_user, eng_, ws_.data());
    wei_ = memory(pd.weights_desc(), eng_);
    reorder(wei_u, wei_).execute(strm_, wei_u, wei_);
    strm_.wait();
    prim_ = matmul(pd);
    impl_info_ = pd.impl_info_str();
  }
  void run() {
    prim_.execute(strm_, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst_}});
    strm_.wait();
  }
  const std::string& impl_info() const { return impl_info_; }

 private:
  dnnl::engine eng_;
  dnnl::stream strm_;
  std::vector<uint8_t> xs_;
  std::vector<int8_t> ws_;
  std::vector<float> ys_;
  dnnl::memory src_, wei_, dst_;
  dnnl::matmul prim_;
  std::string impl_info_;
};

}  // namespace duq::tools
#endif
