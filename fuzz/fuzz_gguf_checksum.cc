// The checksum path of the quantized file (formats/gguf_checksum.h) on arbitrary bytes: verifying either
// answers or throws duq::Error (never crashes, whatever the checksum keys hold); a file that verifies
// fails to verify after any single byte of its header or of a tensor is changed; and the parsed contents
// written back with checksums verify.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_checksum.h"
#include "fuzz_util.h"

using namespace duq;
using namespace duq::formats;

namespace {

bool verifies(const uint8_t* data, size_t size) {
  try {
    GgufHeader h = parse_gguf(data, size, "fuzz.gguf");
    return verify_gguf_checksums(h, data, "fuzz.gguf");
  } catch (const Error&) {
    return false;
  }
}

const std::filesystem::path& scratch() {
  static const std::filesystem::path p = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    auto d = std::filesystem::path(base) / ("duq_fuzz_gguf_checksum_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  GgufHeader h;
  try {
    h = parse_gguf(data, size, "fuzz.gguf");
  } catch (const Error&) {
    return 0;
  }
  bool ok = false;
  try {
    ok = verify_gguf_checksums(h, data, "fuzz.gguf");
  } catch (const Error&) {
    ok = false;
  }
  if (ok) {
    // Any one changed byte in the header or in a tensor's bytes must be found. (The padding between
    // them is not covered, so only those ranges are flipped.)
    std::vector<uint8_t> copy(data, data + size);
    const size_t at = (size * 2654435761u) % h.header_end;
    copy[at] ^= 0x5a;
    FUZZ_REQUIRE(!verifies(copy.data(), copy.size()));
    copy[at] ^= 0x5a;
    for (const GgufTensor& t : h.tensors) {
      if (t.nbytes == 0) continue;
      const size_t pos = static_cast<size_t>(t.data - data) + static_cast<size_t>(t.nbytes / 2);
      copy[pos] ^= 0x01;
      FUZZ_REQUIRE(!verifies(copy.data(), copy.size()));
      copy[pos] ^= 0x01;
    }
  }
  // Written back with checksums, the contents verify (the writer computes what the reader checks).
  if (h.alignment > (1u << 16)) return 0;
  GgufWriter w(h.alignment);
  try {
    for (const auto& [k, v] : h.metadata)
      if (k != kGgufAlignmentKey && k != kGgufHeaderChecksumKey && k != kGgufTensorChecksumsKey) w.add_kv(k, v);
    for (const auto& t : h.tensors) w.add_tensor(t.name, t.type, t.dims, t.bytes());
  } catch (const Error&) {
    return 0;
  }
  w.add_checksums();
  const auto path = scratch() / "rt.gguf";
  w.write(path);
  GgufFile f = GgufFile::open(path);
  FUZZ_REQUIRE(f.verify_checksums());
  return 0;
}
