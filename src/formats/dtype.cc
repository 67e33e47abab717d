#include "formats/dtype.h"

#include <array>
#include <bit>
#include <cstring>

#include "core/error.h"

namespace duq::formats {

// Tensor files are little-endian; we reinterpret their bytes directly.
static_assert(std::endian::native == std::endian::little, "duquant assumes a little-endian host");

namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
  bool is_float;
};

constexpr std::array<DTypeInfo, 10> kTypes = {{
    {DType::F64, "F64", 8, true},
    {DType::F32, "F32", 4, true},
    {DType::F16, "F16", 2, true},
    {DType::BF16, "BF16", 2, true},
    {DType::I64, "I64", 8, false},
    {DType::I32, "I32", 4, false},
    {DType::I16, "I16", 2, false},
    {DType::I8, "I8", 1, false},
    {DType::U8, "U8", 1, false},
    {DType::Bool, "BOOL", 1, false},
}};

const DTypeInfo& info(DType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  DUQ_CHECK(false, "unknown DType ", static_cast<int>(t));
  return kTypes[0];  // unreachable
}

}  // namespace

std::string_view dtype_name(DType t) { return info(t).name; }
size_t dtype_size(DType t) { return info(t).size; }
bool dtype_is_float(DType t) { return info(t).is_float; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& i : kTypes)
    if (i.name == name) return i.type;
  return std::nullopt;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN, payload kept
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 → 127
  } else if (mant == 0) {
    bits = sign;  // ±0
  } else {
    // Subnormal mant·2^-24: shift the leading 1 into the implicit-bit position, one exponent step each.
    int e = 1;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e + 112) << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((a >> 13) & 0x1ffu);  // quiet NaN
  // 65520 = 0x477ff000 is halfway between 65504 (max half, odd mantissa) and 65536: ties-to-even → inf.
  if (a >= 0x477ff000u) return sign | 0x7c00u;
  if (a >= 0x38800000u) {  // normal half (≥ 2^-14): rebias 127 → 15, round off 13 mantissa bits
    const uint32_t m = a - (112u << 23);
    return sign | static_cast<uint16_t>((m + 0xfffu + ((m >> 13) & 1u)) >> 13);
  }
  if (a <= 0x33000000u) return sign;  // ≤ 2^-25: half of the smallest subnormal, a tie rounds to 0
  // Subnormal half: value / 2^-24 = mant·2^(e-126), rounded to nearest even.
  const uint32_t e = a >> 23;
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t r = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) ++r;  // r == 0x400 is the smallest normal: still right
  return sign | static_cast<uint16_t>(r);
}

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  // Round to nearest even; a carry out of the mantissa correctly bumps the exponent (max → inf).
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void convert_to_f32(DType t, const void* src, size_t n, float* dst) {
  // An empty tensor ([0, 4]) has no storage: dst may be null, and memcpy(null, _, 0) is undefined.
  if (n == 0 && dtype_is_float(t)) return;
  const auto* p = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32:
      std::memcpy(dst, p, n * 4);
      return;
    case DType::F16:
    case DType::BF16: {
      const bool half = t == DType::F16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = half ? f16_to_f32(v) : bf16_to_f32(v);
      }
      return;
    }
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, p + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      return;
    default:
      DUQ_CHECK(false, "convert_to_f32: ", dtype_name(t), " is not a float type");
  }
}

void convert_from_f32(DType t, const float* src, size_t n, void* dst) {
  if (n == 0 && dtype_is_float(t)) return;  // as above: src / dst of an empty tensor may be null
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32:
      std::memcpy(p, src, n * 4);
      return;
    case DType::F16:
    case DType::BF16: {
      const bool half = t == DType::F16;
      for (size_t i = 0; i < n; ++i) {
        const uint16_t v = half ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &v, 2);
      }
      return;
    }
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        const double v = src[i];
        std::memcpy(p + 8 * i, &v, 8);
      }
      return;
    default:
      DUQ_CHECK(false, "convert_from_f32: ", dtype_name(t), " is not a float type");
  }
}

}  // namespace duq::formats
