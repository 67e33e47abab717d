#include "formats/q8_0.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "formats/dtype.h"

namespace duq::formats {

void q8_0_encode(const float* x, size_t n, uint8_t* out, const char* what) {
  DUQ_CHECK(n % kQ8_0Block == 0, "q8_0_encode: ", n, " values are not a multiple of ", kQ8_0Block);
  for (size_t b = 0; b < n / kQ8_0Block; ++b) {
    const float* xb = x + b * kQ8_0Block;
    uint8_t* ob = out + b * kQ8_0BlockBytes;
    float amax = 0.f;
    for (size_t i = 0; i < kQ8_0Block; ++i) {
      if (!std::isfinite(xb[i])) fail(what, ": value ", b * kQ8_0Block + i, " is not finite");
      amax = std::max(amax, std::fabs(xb[i]));
    }
    const uint16_t dh = f32_to_f16(amax / 127.f);
    if ((dh & 0x7c00u) == 0x7c00u)
      fail(what, ": block ", b, " has max |x| = ", amax, ", whose Q8_0 scale ", amax / 127.f,
           " exceeds the f16 range (65504); store this tensor as f32");
    // Quantize with the scale the decoder will see (f16-rounded), not the exact one. d can be 0 (an
    // all-zero block, or max|x| below f16's smallest subnormal·127): then every code is 0.
    const float d = f16_to_f32(dh);
    std::memcpy(ob, &dh, 2);
    for (size_t i = 0; i < kQ8_0Block; ++i) {
      // Rounding of d may leave |x/d| slightly above 127: clamp to the symmetric code range.
      const float q = d > 0.f ? std::clamp(std::nearbyint(xb[i] / d), -127.f, 127.f) : 0.f;
      ob[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
}

void q8_0_decode(const uint8_t* in, size_t n, float* out) {
  DUQ_CHECK(n % kQ8_0Block == 0, "q8_0_decode: ", n, " values are not a multiple of ", kQ8_0Block);
  for (size_t b = 0; b < n / kQ8_0Block; ++b) {
    const uint8_t* ib = in + b * kQ8_0BlockBytes;
    uint16_t dh;
    std::memcpy(&dh, ib, 2);
    const float d = f16_to_f32(dh);
    for (size_t i = 0; i < kQ8_0Block; ++i)
      out[b * kQ8_0Block + i] = d * static_cast<float>(static_cast<int8_t>(ib[2 + i]));
  }
}

}  // namespace duq::formats
