// GGUF writer: header serialized in memory, tensor bytes streamed from the caller's spans.
#include <bit>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_checksum.h"

namespace duq::formats {

namespace {

constexpr size_t kMaxKeyBytes = 65535;  // the spec's limit on key length

void put_bytes(std::string& out, const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }

template <class T>
void put(std::string& out, T v) {
  put_bytes(out, &v, sizeof v);
}

void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

template <class T>
void put_elem(std::string& out, const T& x) {
  if constexpr (std::is_same_v<T, std::string>) put_str(out, x);
  else if constexpr (std::is_same_v<T, bool>) put<uint8_t>(out, x ? 1 : 0);
  else put<T>(out, x);
}

void put_value(std::string& out, const GgufValue& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, GgufArray>) {
          put<uint32_t>(out, static_cast<uint32_t>(x.elem_type()));
          put<uint64_t>(out, x.size());
          std::visit(
              [&](const auto& xs) {
                using V = std::decay_t<decltype(xs)>;
                if constexpr (!std::is_same_v<V, std::monostate>)
                  for (size_t i = 0; i < xs.size(); ++i) put_elem<typename V::value_type>(out, xs[i]);
              },
              x.v);
        } else {
          put_elem<T>(out, x);
        }
      },
      v.variant());
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment))
    fail("GGUF writer: alignment ", alignment, " is not a power of two");
}

void GgufWriter::add_kv(std::string key, GgufValue value) {
  if (key.empty() || key.size() > kMaxKeyBytes)
    fail("GGUF writer: key '", key.substr(0, 80), "' must be 1 to ", kMaxKeyBytes, " bytes");
  if (key == kGgufAlignmentKey)
    fail("GGUF writer: set ", kGgufAlignmentKey, " through GgufWriter(alignment), not add_kv");
  if (value.is_array() && value.array().elem_type() == GgufValueType::Array)
    fail("GGUF writer: key '", key, "': arrays of arrays are not supported");
  if (!keys_.insert(key).second) fail("GGUF writer: duplicate key '", key, "'");
  kvs_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims,
                            std::span<const uint8_t> bytes) {
  const std::string what = "GGUF writer: tensor '" + name + "'";
  if (name.empty() || name.size() > kGgufMaxTensorName)
    fail(what, ": name must be 1 to ", kGgufMaxTensorName, " bytes (ggml's limit)");
  if (!ggml_type_supported(static_cast<uint32_t>(type)))
    fail(what, ": unsupported ggml type ", static_cast<uint32_t>(type));
  if (dims.empty() || dims.size() > kGgufMaxDims)
    fail(what, ": has ", dims.size(), " dims, expected 1 to ", kGgufMaxDims);
  uint64_t numel = 1;
  for (uint64_t d : dims)
    if (__builtin_mul_overflow(numel, d, &numel) || numel > kGgufMaxElements)
      fail(what, ": dims ", gguf_dims_str(dims), " hold more than 2^40 elements");
  if (dims[0] % ggml_block_size(type) != 0)
    fail(what, ": ", ggml_type_name(type), " rows of ", dims[0], " values are not a multiple of its block size ",
         ggml_block_size(type));
  const uint64_t need = ggml_nbytes(type, numel);
  if (bytes.size() != need)
    fail(what, ": dims ", gguf_dims_str(dims), " as ", ggml_type_name(type), " need ", need, " bytes, got ",
         bytes.size());
  if (!names_.insert(name).second) fail("GGUF writer: duplicate tensor '", name, "'");
  tensors_.push_back({std::move(name), type, std::move(dims), bytes});
}

void GgufWriter::add_blob(std::string name, std::string layout, std::vector<uint64_t> logical_shape,
                          std::span<const uint8_t> bytes) {
  add_kv(gguf_blob_layout_key(name), GgufValue(std::move(layout)));
  add_kv(gguf_blob_shape_key(name), GgufValue(std::move(logical_shape)));
  add_tensor(std::move(name), GgmlType::I8, {bytes.size()}, bytes);
}

void GgufWriter::write(const std::filesystem::path& path, Replace replace) const {
  const bool write_alignment = alignment_ != kGgufDefaultAlignment;
  std::string h;
  put_bytes(h, "GGUF", 4);
  put<uint32_t>(h, kGgufVersion);
  // Checksums (formats/gguf_checksum.h): per tensor, then the header's own as the last key, filled in below.
  std::vector<std::pair<std::string, GgufValue>> kvs = kvs_;
  if (checksums_) {
    std::vector<uint64_t> sums;
    for (const PendingTensor& t : tensors_) sums.push_back(gguf_tensor_checksum(t.bytes));
    kvs.emplace_back(kGgufTensorChecksumsKey, GgufValue(std::move(sums)));
    kvs.emplace_back(kGgufHeaderChecksumKey, GgufValue(uint64_t{0}));
  }
  uint64_t checksum_at = 0;
  put<uint64_t>(h, tensors_.size());
  put<uint64_t>(h, kvs.size() + (write_alignment ? 1 : 0));
  if (write_alignment) {
    put_str(h, kGgufAlignmentKey);
    put<uint32_t>(h, static_cast<uint32_t>(GgufValueType::U32));
    put<uint32_t>(h, alignment_);
  }
  for (const auto& [key, value] : kvs) {
    put_str(h, key);
    put<uint32_t>(h, static_cast<uint32_t>(value.type()));
    checksum_at = h.size();  // the last value's offset: the header checksum when checksums_
    put_value(h, value);
  }
  // Each tensor starts at the next multiple of the alignment after the previous one (ggml's layout).
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    put_str(h, t.name);
    put<uint32_t>(h, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(h, d);
    put<uint32_t>(h, static_cast<uint32_t>(t.type));
    put<uint64_t>(h, offset);
    offsets.push_back(offset);
    offset = align_up(offset + t.bytes.size(), alignment_);
  }

  if (checksums_) {
    const uint64_t sum = gguf_header_checksum(reinterpret_cast<const uint8_t*>(h.data()), h.size(), checksum_at);
    std::memcpy(&h[checksum_at], &sum, sizeof sum);
  }

  AtomicFile f(path, replace);
  f.write(h);
  f.pad_to(alignment_);
  const uint64_t data_start = f.offset();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    DUQ_CHECK(f.offset() == data_start + offsets[i], "GGUF writer lost track of tensor offsets");
    f.write(tensors_[i].bytes.data(), tensors_[i].bytes.size());
    f.pad_to(alignment_);
  }
  f.commit();
}

}  // namespace duq::formats
