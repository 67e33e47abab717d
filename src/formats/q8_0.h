// ggml's Q8_0 block format (GGUF tensor type 8): each block of 32 consecutive values is stored as an f16
// scale d = max|x| / 127 followed by 32 int8 codes q ∈ [−127, 127], and read back as x ≈ d·q. 34 bytes per
// 32 values (8.5 bits each). duquant stores the token embedding table this way: one row is looked up per
// token, so per-block 8-bit precision costs next to nothing (measured in docs/quantized-format.md).
#pragma once
#include <cstddef>
#include <cstdint>

namespace duq::formats {

inline constexpr size_t kQ8_0Block = 32;       // values per block
inline constexpr size_t kQ8_0BlockBytes = 34;  // 2-byte f16 scale + 32 int8

// Encodes n values (n a multiple of 32) into n / 32 blocks at `out`. The codes are computed with the
// f16-rounded scale, so decoding reproduces exactly what the encoder intended. An all-zero block gets
// d = 0 and q = 0. Throws duq::Error when a value is not finite or a block's scale exceeds f16's range
// (max|x| > 65504·127); `what` names the tensor in the message.
void q8_0_encode(const float* x, size_t n, uint8_t* out, const char* what);
// Decodes n values (n a multiple of 32) from n / 32 blocks. `in` may be unaligned (a mapped file).
void q8_0_decode(const uint8_t* in, size_t n, float* out);

}  // namespace duq::formats
