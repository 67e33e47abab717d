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

void convert_to_f32(DType t, const void* src, size_t n, float* dst) {
  // An empty tensor ([0, 4]) has no storage: dst may be null, and memcpy(null, _, 0) is undefined.
  if (n == 0 && dtype_is_float(t)) return;
  const auto* p = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32: std::memcpy(dst, p, n * 4); return;
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
    default: DUQ_CHECK(false, "convert_to_f32: ", dtype_name(t), " is not a float type");
  }
}

void convert_from_f32(DType t, const float* src, size_t n, void* dst) {
  if (n == 0 && dtype_is_float(t)) return;  // as above: src / dst of an empty tensor may be null
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32: std::memcpy(p, src, n * 4); return;
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
    default: DUQ_CHECK(false, "convert_from_f32: ", dtype_name(t), " is not a float type");
  }
}

}  // namespace duq::formats
