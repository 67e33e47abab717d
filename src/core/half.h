// IEEE half (f16) and bfloat16 scalar conversions: used by the file formats (tensors stored as F16/BF16) and
// by the kernels that read half-precision weights in place (kernels::matmul_xwt_rows_f16).
// f16 → f32 is exact for every bit pattern (subnormals, ±inf, NaN payloads); f32 → f16 / bf16 round to nearest,
// ties to even, overflow to ±inf, NaN stays a (quiet) NaN.
#pragma once
#include <cstdint>

namespace duq {

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);  // bf16 is the upper 16 bits of an fp32
uint16_t f32_to_bf16(float f);

}  // namespace duq
