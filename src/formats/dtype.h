// Element types of tensor files, named as in safetensors ("F32", "BF16", ...), and the conversions
// between the float storage types (F32 / F16 / BF16) and the fp32 the rest of duquant computes in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/half.h"

namespace duq::formats {

enum class DType : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

// "F32", "BF16", ... exactly as safetensors headers spell them.
std::string_view dtype_name(DType t);
// Inverse of dtype_name; nullopt for a name we do not know (the caller reports it with its file).
std::optional<DType> dtype_from_name(std::string_view name);
// Bytes per element.
size_t dtype_size(DType t);
// F64, F32, F16 and BF16 convert to fp32; integer types do not.
bool dtype_is_float(DType t);

// Scalar conversions (core/half.h).
using duq::bf16_to_f32;
using duq::f16_to_f32;
using duq::f32_to_bf16;
using duq::f32_to_f16;

// Buffer conversions of n elements. `src` / `dst` may be unaligned (they point into mapped files).
// The dtype must be a float type (DUQ_CHECK): the caller validates dtypes against the file first.
void convert_to_f32(DType t, const void* src, size_t n, float* dst);
void convert_from_f32(DType t, const float* src, size_t n, void* dst);

}  // namespace duq::formats
