// GGUF (formats::parse_gguf, GgufFile) on arbitrary bytes. For a file the reader accepts: every tensor
// lies inside the buffer, every value prints, blob lookups succeed or throw duq::Error, and writing the
// parsed contents back with GgufWriter (when it accepts them) reads back to the same metadata and bytes.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "formats/gguf.h"
#include "fuzz_util.h"

using namespace duq;
using namespace duq::formats;

namespace {
// Where the round trip writes (GgufWriter goes through AtomicFile: a real directory, renamed into place).
const std::filesystem::path& scratch() {
  static const std::filesystem::path p = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    auto d = std::filesystem::path(base) / ("duq_fuzz_gguf_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return p;
}

void round_trip(const GgufHeader& h, const uint8_t* base, size_t size) {
  // The reader accepts any power-of-two general.alignment, and with no tensors never checks that the
  // padding is in the file: a 117-byte file with alignment 2^30 is valid, and writing it back pads to
  // 1 GiB (the timeout this target found). Round-trip only alignments a real file uses.
  if (h.alignment > (1u << 16)) return;
  GgufWriter w(h.alignment);
  try {
    for (const auto& [k, v] : h.metadata)
      if (k != kGgufAlignmentKey) w.add_kv(k, v);
    for (const auto& t : h.tensors) w.add_tensor(t.name, t.type, t.dims, t.bytes());
  } catch (const Error&) {
    return;  // the writer is stricter than the reader on some names and keys: not a bug in itself
  }
  const auto path = scratch() / "rt.gguf";
  w.write(path);  // a failure to write what was just read would throw out of here: a finding
  GgufFile f = GgufFile::open(path);
  FUZZ_REQUIRE(f.tensors().size() == h.tensors.size());
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const GgufTensor& a = h.tensors[i];
    const GgufTensor& b = f.tensors()[i];
    FUZZ_REQUIRE(a.name == b.name && a.type == b.type && a.dims == b.dims && a.nbytes == b.nbytes);
    FUZZ_REQUIRE(a.nbytes == 0 || std::memcmp(a.data, b.data, a.nbytes) == 0);
  }
  for (const auto& [k, v] : h.metadata) {
    if (k == kGgufAlignmentKey) continue;
    const GgufValue* r = f.find(k);
    FUZZ_REQUIRE(r != nullptr);
    if (v == v) FUZZ_REQUIRE(*r == v);  // NaN floats are never equal to themselves: skip those
  }
  (void)base;
  (void)size;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz.gguf");
  GgufHeader h;
  try {
    h = parse_gguf(data, size, "fuzz.gguf");
  } catch (const Error&) {
    return 0;
  }
  FUZZ_REQUIRE(h.data_offset <= size || h.tensors.empty());
  for (const GgufTensor& t : h.tensors) {
    FUZZ_REQUIRE(t.nbytes <= size && (t.nbytes == 0 || (t.data >= data && t.data <= data + size - t.nbytes)));
    FUZZ_REQUIRE(t.nbytes == ggml_nbytes(t.type, t.numel) && t.dims[0] % ggml_block_size(t.type) == 0);
  }
  for (const auto& [k, v] : h.metadata) (void)v.to_string();

  try {
    GgufFile f = GgufFile::open(file.write(data, size));
    for (const GgufTensor& t : f.tensors()) {
      try {
        GgufBlob b = f.blob(t.name);
        FUZZ_REQUIRE(b.bytes.size() == t.nbytes);
      } catch (const Error&) {
      }
    }
    (void)f.get_or<uint32_t>("general.alignment", 32);
  } catch (const Error&) {
  }
  round_trip(h, data, size);
  return 0;
}
