// DType names and the fp16 / bf16 conversions against hand-derived IEEE-754 bit patterns.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "formats/dtype.h"

using namespace duq::formats;

namespace {
uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t b) { return std::bit_cast<float>(b); }
}  // namespace

TEST(DType, NamesAndSizesMatchSafetensors) {
  EXPECT_EQ(dtype_name(DType::F32), "F32");
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_name(DType::Bool), "BOOL");
  EXPECT_EQ(dtype_from_name("F16"), DType::F16);
  EXPECT_EQ(dtype_from_name("I64"), DType::I64);
  EXPECT_FALSE(dtype_from_name("f32").has_value());  // names are case-sensitive in the format
  EXPECT_FALSE(dtype_from_name("Q4_0").has_value());
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::U8), 1u);
  EXPECT_TRUE(dtype_is_float(DType::BF16));
  EXPECT_FALSE(dtype_is_float(DType::I32));
}

TEST(DType, F16ToF32Golden) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC100), -2.5f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);                  // largest finite half
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(bits(f16_to_f32(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);  // -0 keeps its sign
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_EQ(bits(f16_to_f32(0x7E01)), 0x7FC02000u);  // NaN payload moves up 13 bits
}

TEST(DType, F32ToF16Golden) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.5f), 0xC100);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);  // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // tie with odd 0x7BFF → even → inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(f32_to_f16(0.1f), 0x2E66);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);                       // tie → even 0
  EXPECT_EQ(f32_to_f16(from_bits(bits(std::ldexp(1.0f, -25)) + 1)), 0x0001);  // just above the tie
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -24)), 0x0002);                       // tie 1|2 → 2
  EXPECT_EQ(f32_to_f16(std::ldexp(2.5f, -24)), 0x0002);                       // tie 2|3 → 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);                    // rounds up into the normals
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);                // tie, 0x3C00 even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);            // tie, 0x3C01 odd → up
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  const uint16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_NE(f32_to_f16(from_bits(0x7F800001u)) & 0x03FF, 0);  // signalling NaN with tiny payload stays NaN
}

TEST(DType, F16RoundTripsEveryBitPattern) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
    }
  }
}

TEST(DType, Bf16Golden) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_f32(0xC020), -2.5f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-2.5f), 0xC020);
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808000u)), 0x3F80);             // tie, 0x3F80 even → down
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F818000u)), 0x3F82);             // tie, 0x3F81 odd → up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001u)), 0x3F81);             // above the tie
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F807FFFu)), 0x3F80);             // below the tie
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to +inf
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00000001u)), 0x0000);  // tiny subnormal → 0
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0x7F800001u)))));  // payload only in low bits
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_f32(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), b) << std::hex << b;
    }
  }
}

TEST(DType, BufferConversionsHandleUnalignedData) {
  const float src[5] = {1.0f, -2.5f, 65504.0f, 0.1f, 3.0f};
  alignas(8) uint8_t buf[1 + 5 * 8];
  float back[5];
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F64}) {
    convert_from_f32(t, src, 5, buf + 1);  // deliberately misaligned
    convert_to_f32(t, buf + 1, 5, back);
    for (int i = 0; i < 5; ++i) {
      const float want = t == DType::F16    ? f16_to_f32(f32_to_f16(src[i]))
                         : t == DType::BF16 ? bf16_to_f32(f32_to_bf16(src[i]))
                                            : src[i];
      EXPECT_EQ(back[i], want) << dtype_name(t) << " element " << i;
    }
  }
}
