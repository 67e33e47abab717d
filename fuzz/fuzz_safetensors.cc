// safetensors header parsing (formats::parse_safetensors) on arbitrary bytes, then, for a header that
// validates, every tensor's data read through to fp32 and the same bytes opened as a file through
// TensorStore. A malformed file must end in duq::Error; anything else (a crash, a sanitizer report,
// another exception, a tensor pointing outside the buffer) is a bug.
#include <cstring>
#include <vector>

#include "core/error.h"
#include "formats/safetensors.h"
#include "fuzz_util.h"

using namespace duq;
using namespace duq::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz.safetensors");
  // The exact-size heap copy libFuzzer hands us: ASan flags any byte read past the end.
  try {
    ParsedHeader h = parse_safetensors(data, size, "fuzz.safetensors");
    std::vector<float> buf;
    size_t covered = 0;
    for (const TensorInfo& t : h.tensors) {
      FUZZ_REQUIRE(t.data >= data && t.nbytes <= size && t.data <= data + size - t.nbytes);
      FUZZ_REQUIRE(t.nbytes == static_cast<size_t>(t.numel) * dtype_size(t.dtype));
      covered += t.nbytes;
      if (dtype_is_float(t.dtype)) {
        buf.resize(static_cast<size_t>(t.numel));
        convert_to_f32(t.dtype, t.data, buf.size(), buf.data());
      }
    }
    FUZZ_REQUIRE(covered <= size);
  } catch (const Error&) {
    return 0;  // rejected with a message: the expected outcome for most inputs
  }

  // The same bytes as a file: TensorStore maps, validates and converts 1-D / 2-D tensors.
  try {
    TensorStore s = TensorStore::open(file.write(data, size));
    for (const std::string& name : s.names()) {
      const TensorInfo& t = s.get(name);
      if (dtype_is_float(t.dtype) && (t.shape.size() == 1 || t.shape.size() == 2)) {
        Mat m = s.to_f32(name);
        FUZZ_REQUIRE(m.size() == t.numel);
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
