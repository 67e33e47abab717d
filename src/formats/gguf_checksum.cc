#include "formats/gguf_checksum.h"

#include <xxhash.h>

#include "core/error.h"
#include "formats/gguf.h"

namespace duq::formats {

uint64_t gguf_tensor_checksum(std::span<const uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

uint64_t gguf_header_checksum(const uint8_t* header, uint64_t end, uint64_t value_at) {
  DUQ_CHECK(value_at + 8 <= end);
  XXH3_state_t* s = XXH3_createState();
  DUQ_CHECK(s != nullptr);
  XXH3_64bits_reset(s);
  static const uint8_t zeros[8] = {};
  XXH3_64bits_update(s, header, static_cast<size_t>(value_at));
  XXH3_64bits_update(s, zeros, sizeof zeros);
  XXH3_64bits_update(s, header + value_at + 8, static_cast<size_t>(end - value_at - 8));
  const uint64_t h = XXH3_64bits_digest(s);
  XXH3_freeState(s);
  return h;
}

bool verify_gguf_checksums(const GgufHeader& h, const uint8_t* base, const std::string& file,
                           const std::function<void(const GgufTensor&)>& hashed) {
  size_t hi = h.metadata.size(), ti = h.metadata.size();
  for (size_t i = 0; i < h.metadata.size(); ++i) {
    if (h.metadata[i].first == kGgufHeaderChecksumKey) hi = i;
    if (h.metadata[i].first == kGgufTensorChecksumsKey) ti = i;
  }
  if (hi == h.metadata.size() && ti == h.metadata.size()) return false;
  if (hi == h.metadata.size() || ti == h.metadata.size())
    fail(file, ": has only one of the two checksum keys (", kGgufHeaderChecksumKey, ", ", kGgufTensorChecksumsKey,
         "): the header is damaged");
  const uint64_t* want = h.metadata[hi].second.get_if<uint64_t>();
  if (!want) fail(file, ": ", kGgufHeaderChecksumKey, " is not a uint64: the header is damaged");
  const uint64_t value_at = h.value_offsets[hi];
  if (gguf_header_checksum(base, h.header_end, value_at) != *want)
    fail(file,
         ": header checksum mismatch: the metadata or tensor table is damaged (or was edited); "
         "re-copy or re-quantize the file");
  const std::vector<uint64_t>* sums = h.metadata[ti].second.get_array_if<uint64_t>();
  if (!sums || sums->size() != h.tensors.size())
    fail(file, ": ", kGgufTensorChecksumsKey, " does not hold one uint64 per tensor: the header is damaged");
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    if (gguf_tensor_checksum(h.tensors[i].bytes()) != (*sums)[i])
      fail(file, ": tensor '", h.tensors[i].name,
           "' checksum mismatch: its data is damaged; re-copy or re-quantize the file");
    if (hashed) hashed(h.tensors[i]);
  }
  return true;
}

}  // namespace duq::formats
