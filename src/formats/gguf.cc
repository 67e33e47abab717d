// GGUF reader: validation of the header against the file size, then lookups.
#include "formats/gguf.h"
#include "formats/gguf_checksum.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <sstream>

#include "core/error.h"

namespace duq::formats {

static_assert(std::endian::native == std::endian::little, "GGUF reading assumes a little-endian host");

namespace {

// The smallest encodings, used to bound counts by the bytes left before anything is allocated.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                  // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset
// Counts are bounded by the file size, but a multi-GB file would still allow reserving tens of GB of
// entries (each far larger in memory than its minimal encoding): reserve at most this many up front and
// let the vectors grow only as entries actually parse.
constexpr uint64_t kMaxReserve = 1 << 16;

std::string_view ggml_code_name(uint32_t code) {
  switch (code) {
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 6: return "Q5_0";
    case 7: return "Q5_1";
    case 8: return "Q8_0";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 12: return "Q4_K";
    case 13: return "Q5_K";
    case 14: return "Q6_K";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 29: return "IQ1_M";
    default: return "";
  }
}

// Sequential little-endian reads with bounds checks; every failure names the file and the offset.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& file) : base_(base), size_(size), file_(file) {}

  size_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <class... Args>
  [[noreturn]] void fail_at(uint64_t at, Args&&... args) const {
    fail(file_, ": at offset ", at, ": ", std::forward<Args>(args)...);
  }

  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      fail_at(pos_, what, " needs ", n, " bytes but the file ends after ", left(), " more (", size_,
              " bytes in all; truncated?)");
  }

  template <class T>
  T scalar(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint32_t u32(const std::string& what) { return scalar<uint32_t>(what); }
  uint64_t u64(const std::string& what) { return scalar<uint64_t>(what); }

  std::string str(const std::string& what) {
    const size_t at = pos_;
    need(8, what);
    uint64_t n;
    std::memcpy(&n, base_ + pos_, 8);
    pos_ += 8;
    if (n > left())
      fail_at(at, what, ": string length ", n, " runs past the end of the file (", left(), " bytes left)");
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  bool boolean(const std::string& what) {
    const size_t at = pos_;
    const uint8_t b = scalar<uint8_t>(what);
    if (b > 1) fail_at(at, what, ": bool byte is ", static_cast<int>(b), ", expected 0 or 1");
    return b != 0;
  }

  // `count` elements of T copied out in one go (the caller checked the count against left()).
  template <class T>
  std::vector<T> pod_array(uint64_t count) {
    std::vector<T> v(static_cast<size_t>(count));
    if (count) std::memcpy(v.data(), base_ + pos_, static_cast<size_t>(count) * sizeof(T));
    pos_ += static_cast<size_t>(count) * sizeof(T);
    return v;
  }

  GgufValue value(uint32_t type, const std::string& what);

 private:
  GgufArray array(const std::string& what);

  const uint8_t* base_;
  size_t size_;
  const std::string& file_;
  size_t pos_ = 0;
};

GgufValue Cursor::value(uint32_t type, const std::string& what) {
  switch (static_cast<GgufValueType>(type)) {
    case GgufValueType::U8: return scalar<uint8_t>(what);
    case GgufValueType::I8: return scalar<int8_t>(what);
    case GgufValueType::U16: return scalar<uint16_t>(what);
    case GgufValueType::I16: return scalar<int16_t>(what);
    case GgufValueType::U32: return scalar<uint32_t>(what);
    case GgufValueType::I32: return scalar<int32_t>(what);
    case GgufValueType::F32: return scalar<float>(what);
    case GgufValueType::Bool: return boolean(what);
    case GgufValueType::String: return str(what);
    case GgufValueType::Array: return array(what);
    case GgufValueType::U64: return scalar<uint64_t>(what);
    case GgufValueType::I64: return scalar<int64_t>(what);
    case GgufValueType::F64: return scalar<double>(what);
  }
  fail_at(pos_, what, ": unknown value type ", type);  // callers check; kept for safety
}

GgufArray Cursor::array(const std::string& what) {
  const size_t type_at = pos_;
  const uint32_t elem = u32(what + " array element type");
  if (elem == static_cast<uint32_t>(GgufValueType::Array))
    fail_at(type_at, what, ": arrays of arrays are not supported");
  if (elem >= kGgufValueTypeCount)
    fail_at(type_at, what, ": unknown array element type ", elem, " (GGUF value types are 0..12)");
  const size_t count_at = pos_;
  const uint64_t count = u64(what + " array count");
  static constexpr uint64_t kMinElemBytes[kGgufValueTypeCount] = {1, 1, 2, 2, 4, 4, 4, 1, 8, 0, 8, 8, 8};
  const uint64_t min_bytes = kMinElemBytes[elem];
  if (count > left() / min_bytes)
    fail_at(count_at, what, ": array of ", count, " ", gguf_type_name(static_cast<GgufValueType>(elem)),
            " runs past the end of the file (", left(), " bytes left, at least ", min_bytes, " per element)");
  GgufArray a;
  switch (static_cast<GgufValueType>(elem)) {
    case GgufValueType::U8: a.v = pod_array<uint8_t>(count); break;
    case GgufValueType::I8: a.v = pod_array<int8_t>(count); break;
    case GgufValueType::U16: a.v = pod_array<uint16_t>(count); break;
    case GgufValueType::I16: a.v = pod_array<int16_t>(count); break;
    case GgufValueType::U32: a.v = pod_array<uint32_t>(count); break;
    case GgufValueType::I32: a.v = pod_array<int32_t>(count); break;
    case GgufValueType::F32: a.v = pod_array<float>(count); break;
    case GgufValueType::U64: a.v = pod_array<uint64_t>(count); break;
    case GgufValueType::I64: a.v = pod_array<int64_t>(count); break;
    case GgufValueType::F64: a.v = pod_array<double>(count); break;
    case GgufValueType::Bool: {
      std::vector<bool> v(static_cast<size_t>(count));
      for (uint64_t i = 0; i < count; ++i) v[i] = boolean(what);
      a.v = std::move(v);
      break;
    }
    case GgufValueType::String: {
      std::vector<std::string> v;
      v.reserve(static_cast<size_t>(std::min<uint64_t>(count, kMaxReserve)));
      const std::string elem_what = what + " (array of strings)";
      for (uint64_t i = 0; i < count; ++i) v.push_back(str(elem_what));
      a.v = std::move(v);
      break;
    }
    case GgufValueType::Array: break;  // rejected above
  }
  return a;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

bool ggml_type_supported(uint32_t code) {
  switch (static_cast<GgmlType>(code)) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::I8:
    case GgmlType::I16:
    case GgmlType::I32:
    case GgmlType::I64:
    case GgmlType::F64:
    case GgmlType::BF16:
    case GgmlType::Q8_0: return true;
  }
  return false;
}

std::string_view ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::I8: return "I8";
    case GgmlType::I16: return "I16";
    case GgmlType::I32: return "I32";
    case GgmlType::I64: return "I64";
    case GgmlType::F64: return "F64";
    case GgmlType::BF16: return "BF16";
    case GgmlType::Q8_0: return "Q8_0";
  }
  return "unknown";
}

size_t ggml_block_size(GgmlType t) { return t == GgmlType::Q8_0 ? 32 : 1; }

size_t ggml_type_size(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0: return 2 + 32;  // f16 scale + 32 int8
    case GgmlType::I8: return 1;
    case GgmlType::F16:
    case GgmlType::I16:
    case GgmlType::BF16: return 2;
    case GgmlType::F32:
    case GgmlType::I32: return 4;
    case GgmlType::I64:
    case GgmlType::F64: return 8;
  }
  DUQ_CHECK(false, "unknown ggml type ", static_cast<uint32_t>(t));
  return 0;
}

uint64_t ggml_nbytes(GgmlType t, uint64_t numel) { return numel / ggml_block_size(t) * ggml_type_size(t); }

std::string gguf_dims_str(std::span<const uint64_t> dims) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  os << ']';
  return os.str();
}

std::string gguf_blob_layout_key(const std::string& name) { return "duquant.blob." + name + ".layout"; }
std::string gguf_blob_shape_key(const std::string& name) { return "duquant.blob." + name + ".shape"; }

GgufHeader parse_gguf(const uint8_t* base, size_t size, const std::string& file) {
  constexpr size_t kFixed = 4 + 4 + 8 + 8;
  if (size < kFixed) fail(file, ": ", size, " bytes, too short for a GGUF header (need ", kFixed, ")");
  if (std::memcmp(base, "GGUF", 4) != 0) {
    std::ostringstream got;
    for (int i = 0; i < 4; ++i) got << (i ? " " : "") << std::hex << static_cast<int>(base[i]);
    fail(file, ": bad magic (first bytes ", got.str(), ", expected \"GGUF\"): not a GGUF file");
  }
  Cursor c(base, size, file);
  c.u32("magic");
  GgufHeader h;
  h.version = c.u32("version");
  if (h.version != kGgufVersion) {
    const uint32_t swapped = __builtin_bswap32(h.version);  // std::byteswap is C++23
    if (swapped >= 1 && swapped <= 3) fail(file, ": big-endian GGUF (version ", swapped, ") is not supported");
    if (h.version > kGgufVersion)
      fail(file, ": written by a newer duquant/GGUF version ", h.version, "; this build reads version ", kGgufVersion);
    fail(file, ": GGUF version ", h.version, " is not supported; this build reads version ", kGgufVersion);
  }
  const uint64_t tensor_count = c.u64("tensor_count");
  const uint64_t kv_count = c.u64("metadata_kv_count");
  // Bound both counts by the bytes that follow before reserving anything for them.
  const uint64_t rest = c.left();
  if (kv_count > rest / kMinKvBytes)
    fail(file, ": metadata_kv_count ", kv_count, " is absurd: the remaining ", rest, " bytes hold at most ",
         rest / kMinKvBytes, " key-value pairs");
  if (tensor_count > rest / kMinTensorInfoBytes)
    fail(file, ": tensor_count ", tensor_count, " is absurd: the remaining ", rest, " bytes hold at most ",
         rest / kMinTensorInfoBytes, " tensor infos");
  if (kv_count * kMinKvBytes + tensor_count * kMinTensorInfoBytes > rest)
    fail(file, ": metadata_kv_count ", kv_count, " and tensor_count ", tensor_count,
         " cannot both fit in the remaining ", rest, " bytes");

  std::map<std::string, size_t, std::less<>> keys;
  h.metadata.reserve(static_cast<size_t>(std::min<uint64_t>(kv_count, kMaxReserve)));
  for (uint64_t i = 0; i < kv_count; ++i) {
    const size_t key_at = c.pos();
    std::string key = c.str("key of metadata entry " + std::to_string(i));
    const std::string what = "key '" + key + "'";
    if (keys.count(key)) c.fail_at(key_at, "duplicate ", what);
    const size_t type_at = c.pos();
    const uint32_t type = c.u32(what + " value type");
    if (type >= kGgufValueTypeCount)
      c.fail_at(type_at, what, ": unknown value type ", type, " (GGUF value types are 0..12)");
    h.value_offsets.push_back(c.pos());
    GgufValue v = c.value(type, what);
    keys.emplace(key, h.metadata.size());
    h.metadata.emplace_back(std::move(key), std::move(v));
  }

  if (auto it = keys.find(kGgufAlignmentKey); it != keys.end()) {
    const GgufValue& v = h.metadata[it->second].second;
    const uint32_t* a = v.get_if<uint32_t>();
    if (!a) fail(file, ": key ", kGgufAlignmentKey, " has type ", v.type_name(), ", expected uint32");
    if (*a == 0 || !std::has_single_bit(*a))
      fail(file, ": ", kGgufAlignmentKey, " is ", *a, ", which is not a power of two");
    // A real file aligns tensors to at most a page or a huge page; a larger value only pushes the data
    // section past the end (or wastes gigabytes of padding when writing the file back).
    constexpr uint32_t kMaxAlignment = 1u << 24;
    if (*a > kMaxAlignment)
      fail(file, ": ", kGgufAlignmentKey, " is ", *a, ", above the supported maximum ", kMaxAlignment, " (16 MiB)");
    h.alignment = *a;
  }

  std::map<std::string, size_t, std::less<>> names;
  h.tensors.reserve(static_cast<size_t>(std::min<uint64_t>(tensor_count, kMaxReserve)));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const size_t name_at = c.pos();
    GgufTensor t;
    t.name = c.str("name of tensor " + std::to_string(i));
    const std::string what = "tensor '" + t.name + "'";
    if (names.count(t.name)) c.fail_at(name_at, "duplicate ", what);
    const size_t ndims_at = c.pos();
    const uint32_t n_dims = c.u32(what + " n_dims");
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      c.fail_at(ndims_at, what, ": n_dims is ", n_dims, ", expected 1..", kGgufMaxDims);
    uint64_t numel = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      t.dims.push_back(c.u64(what + " dims"));
      overflow = overflow || __builtin_mul_overflow(numel, t.dims.back(), &numel);
    }
    if (overflow || numel > kGgufMaxElements)
      c.fail_at(ndims_at, what, ": dims ", gguf_dims_str(t.dims), overflow ? " overflow the element count" : "",
                overflow ? "" : " hold more than 2^40 elements", " (corrupt header?)");
    t.numel = numel;
    const size_t type_at = c.pos();
    const uint32_t type = c.u32(what + " type");
    if (!ggml_type_supported(type)) {
      const std::string_view known = ggml_code_name(type);
      c.fail_at(type_at, what, ": ggml type ", type, known.empty() ? "" : " (", known, known.empty() ? "" : ")",
                " is not supported; this build reads F32, F16, BF16, Q8_0, I8, I16, I32, I64 and F64");
    }
    t.type = static_cast<GgmlType>(type);
    if (t.dims[0] % ggml_block_size(t.type) != 0)
      c.fail_at(type_at, what, ": ", ggml_type_name(t.type), " rows of ", t.dims[0],
                " values are not a multiple of its block size ", ggml_block_size(t.type));
    t.nbytes = ggml_nbytes(t.type, numel);  // ≤ 2^43: no overflow
    const size_t offset_at = c.pos();
    t.offset = c.u64(what + " offset");
    if (t.offset % h.alignment != 0)
      c.fail_at(offset_at, what, ": data offset ", t.offset, " is not a multiple of the alignment ", h.alignment);
    names.emplace(t.name, h.tensors.size());
    h.tensors.push_back(std::move(t));
  }

  const uint64_t header_end = c.pos();
  h.header_end = header_end;
  h.data_offset = align_up(header_end, h.alignment);
  if (!h.tensors.empty() && h.data_offset > size)
    fail(file, ": the header ends at offset ", header_end, " and the data section would start at ", h.data_offset,
         ", past the end of the file (", size, " bytes; truncated?)");
  const uint64_t data_size = h.data_offset <= size ? size - h.data_offset : 0;
  for (GgufTensor& t : h.tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail(file, ": tensor '", t.name, "' (", ggml_type_name(t.type), " ", gguf_dims_str(t.dims), ", ", t.nbytes,
           " bytes at data offset ", t.offset, ", file offset ", h.data_offset + t.offset,
           ") runs past the end of the file (", size, " bytes; truncated?)");
    t.data = base + h.data_offset + t.offset;
  }

  // No two tensors may share bytes (a writer bug or a crafted file aliasing weights).
  std::vector<const GgufTensor*> by_offset;
  for (const GgufTensor& t : h.tensors)
    if (t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& a = *by_offset[i - 1];
    const GgufTensor& b = *by_offset[i];
    if (b.offset < a.offset + a.nbytes)
      fail(file, ": tensor '", b.name, "' data [", b.offset, ", ", b.offset + b.nbytes, ") overlaps tensor '", a.name,
           "' data [", a.offset, ", ", a.offset + a.nbytes, ") (data offsets)");
  }
  return h;
}

bool GgufFile::verify_checksums() const {
  return verify_gguf_checksums(h_, file_.data(), path(), [this](const GgufTensor& t) { release(t); });
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f;
  f.file_ = MappedFile(path);
  f.h_ = parse_gguf(f.file_.data(), f.file_.size(), f.file_.path());
  for (size_t i = 0; i < f.h_.metadata.size(); ++i) f.kv_index_.emplace(f.h_.metadata[i].first, i);
  for (size_t i = 0; i < f.h_.tensors.size(); ++i) f.tensor_index_.emplace(f.h_.tensors[i].name, i);
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &h_.metadata[it->second].second;
}

const GgufValue& GgufFile::value(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("missing key ", key, " in ", path());
  return *v;
}

void GgufFile::type_mismatch(const std::string& key, const GgufValue& v, const std::string& want) const {
  fail(path(), ": key ", key, " has type ", v.type_name(), ", expected ", want);
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = value(key);
  return std::visit(
      [&](const auto& x) -> uint64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>)
            if (x < 0)
              fail(path(), ": key ", key, " is ", static_cast<int64_t>(x), ", expected a non-negative integer");
          return static_cast<uint64_t>(x);
        } else {
          type_mismatch(key, v, "an integer");
        }
      },
      v.variant());
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &h_.tensors[it->second];
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) fail(path(), ": no tensor ", name);
  return *t;
}

const GgufTensor& GgufFile::tensor(const std::string& name, uint64_t expected_bytes) const {
  const GgufTensor& t = tensor(name);
  if (t.nbytes != expected_bytes)
    fail(path(), ": tensor ", name, ": expected ", expected_bytes, " bytes, file has ", t.nbytes);
  return t;
}

const GgufTensor& GgufFile::tensor(const std::string& name, GgmlType type, std::span<const uint64_t> dims) const {
  const GgufTensor& t = tensor(name);
  if (t.type != type || !std::equal(t.dims.begin(), t.dims.end(), dims.begin(), dims.end()))
    fail(path(), ": tensor ", name, " is ", ggml_type_name(t.type), " ", gguf_dims_str(t.dims), ", expected ",
         ggml_type_name(type), " ", gguf_dims_str(dims));
  return t;
}

GgufBlob GgufFile::blob(const std::string& name) const {
  const GgufTensor& t = tensor(name);
  if (t.type != GgmlType::I8 || t.dims.size() != 1)
    fail(path(), ": tensor ", name, " is ", ggml_type_name(t.type), " ", gguf_dims_str(t.dims),
         ", expected a packed blob (1-D I8)");
  GgufBlob b;
  b.layout = get<std::string>(gguf_blob_layout_key(name));
  b.shape = get_array<uint64_t>(gguf_blob_shape_key(name));
  b.bytes = t.bytes();
  return b;
}

}  // namespace duq::formats
