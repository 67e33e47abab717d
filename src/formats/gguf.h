// GGUF v3 (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) as a generic container of named
// tensors + typed metadata. This file knows no model and no quantization scheme.
//
// Layout (all little-endian):
//   "GGUF" | u32 version = 3 | u64 tensor_count | u64 metadata_kv_count
//   kv × metadata_kv_count:  string key | u32 value type | value
//        (string = u64 byte length + UTF-8 bytes, no terminator;
//         array  = u32 element type + u64 count + elements)
//   tensor info × tensor_count: string name | u32 n_dims | u64 dims[n_dims] | u32 ggml type | u64 offset
//        dims are in ggml order: dims[0] is the fastest-varying one (the row length), so a PyTorch
//        [out × in] weight has dims {in, out}. offset is relative to the data section, a multiple of
//        the alignment.
//   zero padding to a multiple of `general.alignment` (a uint32 key, default 32; a power of two)
//   data section: tensor bytes at their offsets.
//
// Tensor types: the plain element types (F32, F16, BF16, I8, I16, I32, I64, F64) and one ggml block type,
// Q8_0 (blocks of 32 values along dims[0]: an f16 scale d then 32 int8 q, x ≈ d·q; 34 bytes; codec in
// formats/q8_0.h), which duquant uses to store the token embedding table compactly. A block type needs
// dims[0] to be a multiple of its block size. Other block-quantized types (Q4_0, Q4_K, ...) are rejected
// on read: duquant does not use them.
//
// Project-specific packed data ("blobs"), e.g. int4 weights packed two per byte with their scales, are
// stored so that every standard GGUF reader (ggml, llama.cpp's gguf-py, @huggingface/gguf) still parses
// the file and can even copy the bytes through:
//   - the tensor itself is 1-D of type I8 with dims {byte count}: opaque bytes to anyone else;
//   - "duquant.blob.<tensor name>.layout" (string) names the packing, defined by the code that packs it
//     (e.g. "w4.rowmajor.g128.v1"; this layer never interprets it);
//   - "duquant.blob.<tensor name>.shape" (array of uint64) is the logical shape, outermost first
//     (PyTorch order, e.g. {out, in}), NOT ggml order.
// GgufWriter::add_blob and GgufFile::blob write and read this triple; the reader checks that it is complete.
//
// Reading maps the file and validates the whole header before returning (counts against the file size
// before anything is allocated, types, duplicates, alignment, tensor bounds and overlaps), so a truncated
// or hostile file fails with a duq::Error naming the file, the offset and the problem.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "core/mapped_file.h"
#include "formats/gguf_value.h"

namespace duq::formats {

inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;               // GGML_MAX_DIMS
inline constexpr uint64_t kGgufMaxElements = 1ull << 40;  // per tensor; anything larger is corruption
inline constexpr size_t kGgufMaxTensorName = 63;          // ggml rejects names of 64 bytes or more
inline constexpr const char* kGgufAlignmentKey = "general.alignment";

// ggml tensor types we read and write, with their ggml enum values.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30
};

bool ggml_type_supported(uint32_t code);
std::string_view ggml_type_name(GgmlType t);  // "F32", "BF16", "Q8_0", ...
// As in ggml: values per block (1 for the plain types, 32 for Q8_0) and bytes per block.
size_t ggml_block_size(GgmlType t);
size_t ggml_type_size(GgmlType t);
// Bytes of `numel` values (numel a multiple of the block size; callers check dims[0] first).
uint64_t ggml_nbytes(GgmlType t, uint64_t numel);

// A tensor as described by the file, with its bytes viewed in the mapping (aligned to the file's alignment).
struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> dims;  // ggml order: dims[0] fastest-varying
  uint64_t numel = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;
  std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(nbytes)}; }
};

std::string gguf_dims_str(std::span<const uint64_t> dims);  // "[4096, 11008]"

// A packed blob read back: its bytes plus the convention's two metadata entries.
struct GgufBlob {
  std::string layout;
  std::vector<uint64_t> shape;  // logical, outermost first
  std::span<const uint8_t> bytes;
};

// The parsed header: metadata in file order and tensors in file order, data pointers into `base`.
struct GgufHeader {
  uint32_t version = 0;
  uint32_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // absolute start of the data section
  uint64_t header_end = 0;   // end of the tensor infos (before the padding)
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<uint64_t> value_offsets;  // per metadata entry: file offset of its value bytes
  std::vector<GgufTensor> tensors;
};

// Validates the `size` bytes at `base` as a GGUF v3 file called `file` (used only in messages).
// Exposed so tests can feed crafted bytes without touching the disk.
GgufHeader parse_gguf(const uint8_t* base, size_t size, const std::string& file);

class GgufFile {
 public:
  // Maps and validates `path`; throws duq::Error naming it.
  static GgufFile open(const std::filesystem::path& path);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return h_.version; }
  uint32_t alignment() const { return h_.alignment; }
  uint64_t data_offset() const { return h_.data_offset; }
  // Drops a tensor's mapped pages from resident memory once the caller holds its own copy (MappedFile::release).
  void release(const GgufTensor& t) const { file_.release(t.data, static_cast<size_t>(t.nbytes)); }
  // The same for every tensor (a reader that has copied what it needs so far; pages read again come back).
  void release_all() const { file_.release(file_.data(), file_.size()); }

  // --- metadata ---
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return h_.metadata; }
  bool has(const std::string& key) const { return kv_index_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;
  // Throws "missing key KEY in FILE".
  const GgufValue& value(const std::string& key) const;
  // Exactly-typed getters: T is one of the GgufValue alternatives (uint32_t, std::string, bool, ...).
  // Throw "FILE: key KEY has type string, expected uint32" on a mismatch, or "missing key" as above.
  template <GgufScalar T>
  const T& get(const std::string& key) const {
    const GgufValue& v = value(key);
    if (const T* p = v.get_if<T>()) return *p;
    type_mismatch(key, v, std::string(gguf_type_name(gguf_type_of<T>())));
  }
  template <GgufScalar T>
  const std::vector<T>& get_array(const std::string& key) const {
    const GgufValue& v = value(key);
    if (const std::vector<T>* p = v.get_array_if<T>()) return *p;
    type_mismatch(key, v, "array of " + std::string(gguf_type_name(gguf_type_of<T>())));
  }
  // Any integer type (uint8 … int64) with a non-negative value, widened: for counts written by others.
  uint64_t get_uint(const std::string& key) const;
  // get<T> if present, else `fallback`.
  template <GgufScalar T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? get<T>(key) : fallback;
  }

  // --- tensors ---
  const std::vector<GgufTensor>& tensors() const { return h_.tensors; }
  const GgufTensor* find_tensor(const std::string& name) const;
  // Throws "FILE: no tensor NAME".
  const GgufTensor& tensor(const std::string& name) const;
  // Also checks the byte size: "FILE: tensor NAME: expected 8192 bytes, file has 4096".
  const GgufTensor& tensor(const std::string& name, uint64_t expected_bytes) const;
  // Also checks type and dims (ggml order): "FILE: tensor NAME is F16 [4, 2], expected F32 [4, 2]".
  const GgufTensor& tensor(const std::string& name, GgmlType type, std::span<const uint64_t> dims) const;
  // A packed blob (see the header comment); throws when the tensor is not 1-D I8 or a key is missing.
  GgufBlob blob(const std::string& name) const;
  // formats/gguf_checksum.h: false when the file has no checksums, true when they match; throws otherwise.
  bool verify_checksums() const;

 private:
  GgufFile() = default;
  [[noreturn]] void type_mismatch(const std::string& key, const GgufValue& v, const std::string& want) const;

  MappedFile file_;
  GgufHeader h_;
  std::map<std::string, size_t, std::less<>> kv_index_, tensor_index_;
};

// Builds a GGUF v3 file. Tensor bytes are NOT copied: each span must stay valid until write() returns.
// Tensors are laid out in the order added, each at the next multiple of the alignment (the layout ggml
// itself produces and expects), and the file ends padded to the alignment.
class GgufWriter {
 public:
  // `alignment`: a power of two ≥ 1; written as general.alignment only when it is not the default 32.
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  // Throws duq::Error on a duplicate key, an empty key or general.alignment (set it through the constructor).
  void add_kv(std::string key, GgufValue value);
  // dims in ggml order (dims[0] fastest), 1 to 4 of them; bytes.size() must equal numel × element size.
  // Throws duq::Error on a duplicate, empty or ≥ 64-byte name or a size mismatch.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims, std::span<const uint8_t> bytes);
  // A packed blob: a 1-D I8 tensor of bytes.size() plus its layout and logical shape keys.
  void add_blob(std::string name, std::string layout, std::vector<uint64_t> logical_shape,
                std::span<const uint8_t> bytes);

  // Adds formats/gguf_checksum.h's two keys (computed in write()): every tensor and the header checksummed.
  void add_checksums() { checksums_ = true; }

  // Writes everything to `path` through duq::AtomicFile: `path` is replaced only by a complete file.
  void write(const std::filesystem::path& path, Replace replace = Replace::IfRegular) const;

  uint32_t alignment() const { return alignment_; }

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    std::span<const uint8_t> bytes;
  };
  uint32_t alignment_;
  bool checksums_ = false;
  std::vector<std::pair<std::string, GgufValue>> kvs_;
  std::vector<PendingTensor> tensors_;
  std::set<std::string, std::less<>> keys_, names_;
};

// The metadata keys of the blob convention for tensor `name`.
std::string gguf_blob_layout_key(const std::string& name);  // "duquant.blob.<name>.layout"
std::string gguf_blob_shape_key(const std::string& name);   // "duquant.blob.<name>.shape"

}  // namespace duq::formats
