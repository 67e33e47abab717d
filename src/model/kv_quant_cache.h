// The integer engine's KV cache: K and V of every layer stored quantized per (KV head, token) at the KV
// bits, with the activation quantizer of kernels/act_quant.h (so a stored row dequantizes to exactly the
// values the simulated path's fake quantization produces):
//   codes  [capacity × n_kv_heads × hd]   bits ≤ 4: two codes per byte (low nibble = even column), else u8
//   scale  [capacity × n_kv_heads] Δ,  zero [capacity × n_kv_heads] z (int32);   x̂ = (q − z)·Δ
// K uses the Q/K clip ratio, V none (clip 1), as the simulation does.
#pragma once
#include <cstdint>
#include <vector>

#include "core/aligned.h"
#include "core/tensor.h"
#include "kernels/act_quant.h"
#include "model/config.h"
#include "model/forward.h"

namespace duq::model {

class QuantKVCache {
 public:
  enum Which { K = 0, V = 1 };
  QuantKVCache(const ModelConfig& c, int capacity, int bits);

  // Quantizes x [T × n_kv·hd] (positions pos0 … pos0+T−1) into layer l's K or V.
  void store(int layer, Which which, ConstMatView x, int pos0, float clip);
  // x̂ of KV head `head` for positions [0, n): out [n × hd] (may be a strided view).
  void load_head(int layer, Which which, int head, int64_t n, MatView out) const;

  int capacity() const { return capacity_; }
  int bits() const { return bits_; }
  // Bytes held for codes, scales and zero points (all layers, K and V, full capacity).
  size_t bytes() const;

 private:
  struct Plane {
    AlignedVector<uint8_t> codes;
    std::vector<float> scale;
    std::vector<int32_t> zero;
  };
  int capacity_, bits_, n_kv_, hd_;
  int64_t row_bytes_;          // bytes of one (token, head) row of codes
  std::vector<Plane> planes_;  // [layer·2 + which]
  kernels::QuantActs tmp_;     // the quantizer's output before packing
};

}  // namespace duq::model
