// Scalar reference for per-token activation quantization and the fused activation transform: the shared tile
// loop (act_quant-inl.h) on ScalarSteps, the textbook loops of act_quant.h. Obviously correct first, fast never.
// Also the baseline functions every ISA path calls for its scales (quant_params, rot16_row_scales), so all
// paths agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/int_kernels_internal.h"

#define DUQ_ISA_NS scalar
#include "kernels/act_quant-inl.h"
#undef DUQ_ISA_NS

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

void act_quant_ref(const ActQuantArgs& a) { scalar::act_quant_tiles<scalar::ScalarSteps>(a); }

void quantize_weight_row(const float* w, int64_t k, int bits, float clip, uint8_t* codes, float* delta, int32_t* zero) {
  int32_t s;
  scalar::ScalarSteps::quantize_row(w, k, k, bits, clip, codes, delta, zero, &s, nullptr);
}

}  // namespace duq::kernels::detail
