// Integrity of a GGUF file duquant writes: an XXH3-64 checksum (xxHash, Debian's libxxhash) of every
// tensor's bytes and one over the whole header (metadata and tensor infos), stored as two metadata keys:
//   "duquant.checksum.xxh3.tensors"  array of uint64, one per tensor in file order
//   "duquant.checksum.xxh3.header"   uint64: XXH3-64 of the header bytes [0, end of the tensor infos) with
//                                     this value's own 8 bytes taken as zero; it is the last metadata key.
// Other GGUF readers ignore both keys. A flipped bit anywhere in the header or in a tensor is found on load.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace duq::formats {

struct GgufHeader;
struct GgufTensor;

inline constexpr const char* kGgufTensorChecksumsKey = "duquant.checksum.xxh3.tensors";
inline constexpr const char* kGgufHeaderChecksumKey = "duquant.checksum.xxh3.header";

uint64_t gguf_tensor_checksum(std::span<const uint8_t> bytes);
// XXH3-64 of header[0, end) with the 8 bytes at value_at taken as zero.
uint64_t gguf_header_checksum(const uint8_t* header, uint64_t end, uint64_t value_at);

// False when the file carries no checksum keys; true when both match. Throws duq::Error naming `file` and
// the tensor (or "header") on a mismatch or a malformed checksum key. `hashed`, when given, is called with each
// tensor once its bytes are hashed (GgufFile drops the tensor's mapped pages there, so verifying a file never
// holds all of it in memory).
bool verify_gguf_checksums(const GgufHeader& h, const uint8_t* base, const std::string& file,
                           const std::function<void(const GgufTensor&)>& hashed = {});

}  // namespace duq::formats
