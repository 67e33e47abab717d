#include "model/kv_quant_cache.h"

#include <cstring>

#include "core/error.h"
#include "kernels/nn_ops.h"

namespace duq::model {

QuantKVCache::QuantKVCache(const ModelConfig& c, int capacity, int bits)
    : capacity_(capacity), bits_(bits), n_kv_(c.n_kv_heads), hd_(c.head_dim()) {
  DUQ_CHECK(bits >= 2 && bits <= 8 && hd_ % 2 == 0);
  row_bytes_ = bits_ <= 4 ? hd_ / 2 : hd_;
  planes_.resize(2 * static_cast<size_t>(c.n_layers));
  const size_t rows = static_cast<size_t>(capacity) * static_cast<size_t>(n_kv_);
  for (Plane& p : planes_) {
    p.codes.assign(rows * static_cast<size_t>(row_bytes_), 0);
    p.scale.assign(rows, 0.f);
    p.zero.assign(rows, 0);
  }
}

size_t QuantKVCache::bytes() const {
  size_t b = 0;
  for (const Plane& p : planes_) b += p.codes.size() + p.scale.size() * sizeof(float) + p.zero.size() * sizeof(int32_t);
  return b;
}

void QuantKVCache::store(int layer, Which which, ConstMatView x, int pos0, float clip) {
  const int64_t T = x.rows;
  DUQ_CHECK(x.cols == static_cast<int64_t>(n_kv_) * hd_ && x.contiguous());
  DUQ_CHECK(pos0 >= 0 && pos0 + T <= capacity_, "KV cache: context beyond its capacity");
  Plane& p = planes_[2 * static_cast<size_t>(layer) + static_cast<size_t>(which)];
  // One quantizer row per (token, head): the rows of x are [n_kv × hd] back to back.
  kernels::quantize_acts(ConstMatView(x.data, T * n_kv_, hd_), bits_, clip, tmp_);
  const int64_t r0 = static_cast<int64_t>(pos0) * n_kv_;
  kernels::for_rows(T * n_kv_, hd_, [&](int64_t ra, int64_t rb) {
    for (int64_t r = ra; r < rb; ++r) {
      const uint8_t* src = tmp_.row(r);
      uint8_t* dst = p.codes.data() + (r0 + r) * row_bytes_;
      if (bits_ <= 4)
        for (int64_t j = 0; j < row_bytes_; ++j) dst[j] = static_cast<uint8_t>(src[2 * j] | (src[2 * j + 1] << 4));
      else std::memcpy(dst, src, static_cast<size_t>(hd_));
      p.scale[static_cast<size_t>(r0 + r)] = tmp_.scale[static_cast<size_t>(r)];
      p.zero[static_cast<size_t>(r0 + r)] = tmp_.zero[static_cast<size_t>(r)];
    }
  });
}

void QuantKVCache::load_head(int layer, Which which, int head, int64_t n, MatView out) const {
  DUQ_CHECK(out.rows == n && out.cols == hd_ && n <= capacity_ && head < n_kv_);
  const Plane& p = planes_[2 * static_cast<size_t>(layer) + static_cast<size_t>(which)];
  for (int64_t t = 0; t < n; ++t) {
    const size_t r = static_cast<size_t>(t * n_kv_ + head);
    const uint8_t* src = p.codes.data() + static_cast<int64_t>(r) * row_bytes_;
    const float s = p.scale[r];
    const int32_t z = p.zero[r];
    float* o = out.row(t);
    // x̂ = (q − z)·Δ, as kernels::dequantize_acts (and so the fake quantization) computes it.
    if (bits_ <= 4)
      for (int64_t j = 0; j < row_bytes_; ++j) {
        o[2 * j] = static_cast<float>(static_cast<int32_t>(src[j] & 15) - z) * s;
        o[2 * j + 1] = static_cast<float>(static_cast<int32_t>(src[j] >> 4) - z) * s;
      }
    else
      for (int64_t j = 0; j < hd_; ++j) o[j] = static_cast<float>(static_cast<int32_t>(src[j]) - z) * s;
  }
}

}  // namespace duq::model
