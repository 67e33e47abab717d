#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/json_file.h"

namespace duq::formats {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // real headers are a few MB at most
constexpr int64_t kMaxDims = 8;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian host (static_assert in dtype.cc)
  return v;
}

// Tensor entry `name` → TensorInfo with offsets relative to the data section (data = base + begin),
// checking types, shape and the byte count; range checks against the section come later.
TensorInfo parse_entry(const std::string& file, const std::string& name, const nlohmann::json& e, uint64_t data_size,
                       uint64_t* begin, uint64_t* end) {
  const std::string where = file + ": tensor '" + name + "'";
  if (!e.is_object()) fail(where, ": header entry is not an object");
  TensorInfo t;
  t.name = name;
  t.file = file;

  auto dt = e.find("dtype");
  if (dt == e.end()) fail(where, ": missing 'dtype'");
  if (!dt->is_string()) fail(where, ": 'dtype' is not a string");
  auto parsed = dtype_from_name(dt->get<std::string>());
  if (!parsed) fail(where, ": unknown dtype '", dt->get<std::string>(), "'");
  t.dtype = *parsed;

  auto sh = e.find("shape");
  if (sh == e.end()) fail(where, ": missing 'shape'");
  if (!sh->is_array()) fail(where, ": 'shape' is not an array");
  if (static_cast<int64_t>(sh->size()) > kMaxDims)
    fail(where, ": shape has ", sh->size(), " dimensions (at most ", kMaxDims, " supported)");
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : *sh) {
    if (!d.is_number_integer()) fail(where, ": shape ", sh->dump(), " has a non-integer dimension");
    if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0)
      fail(where, ": shape ", sh->dump(), " has a negative dimension");
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, v, &numel)) overflow = true;
    t.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)));
  }
  const uint64_t esize = dtype_size(t.dtype);
  uint64_t nbytes = 0;
  if (overflow || __builtin_mul_overflow(numel, esize, &nbytes))
    fail(where, ": shape ", sh->dump(), " overflows the element count");
  // A shape that cannot fit in the data section is absurd whatever its offsets say (e.g. 2^40 elements).
  if (nbytes > data_size)
    fail(where, ": shape ", sh->dump(), " needs ", nbytes, " bytes as ", dtype_name(t.dtype),
         " but the data section holds only ", data_size);
  t.numel = static_cast<int64_t>(numel);
  t.nbytes = static_cast<size_t>(nbytes);

  auto off = e.find("data_offsets");
  if (off == e.end()) fail(where, ": missing 'data_offsets'");
  if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
    fail(where, ": 'data_offsets' must be two non-negative integers (got ", off->dump(), ")");
  *begin = (*off)[0].get<uint64_t>();
  *end = (*off)[1].get<uint64_t>();
  if (*begin > *end) fail(where, ": data_offsets begin ", *begin, " > end ", *end);
  if (*end > data_size)
    fail(where, ": data_offsets [", *begin, ", ", *end, "] run past the data section of ", data_size,
         " bytes (file truncated?)");
  if (*end - *begin != nbytes)
    fail(where, ": data_offsets [", *begin, ", ", *end, "] span ", *end - *begin, " bytes but shape ", sh->dump(),
         " as ", dtype_name(t.dtype), " needs ", nbytes);
  return t;
}

}  // namespace

std::string shape_str(std::span<const int64_t> shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

ParsedHeader parse_safetensors(const uint8_t* base, size_t file_size, const std::string& file) {
  if (file_size < 8) fail(file, ": ", file_size, " bytes, too short for a safetensors header (need 8)");
  const uint64_t n = read_u64_le(base);
  if (n > kMaxHeaderBytes)
    fail(file, ": header length ", n, " is absurd (limit ", kMaxHeaderBytes, "); not a safetensors file?");
  if (n > file_size - 8) fail(file, ": header length ", n, " runs past the end of the file (", file_size, " bytes)");
  const char* hp = reinterpret_cast<const char*>(base + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hp, hp + n);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    fail(file, ": header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) fail(file, ": header is not a JSON object");

  const uint64_t data_size = file_size - 8 - n;
  const uint8_t* data = base + 8 + n;
  ParsedHeader out;
  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(file, ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail(file, ": __metadata__ value for '", k, "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    uint64_t b = 0, e = 0;
    TensorInfo t = parse_entry(file, name, entry, data_size, &b, &e);
    t.data = data + b;
    spans.push_back({b, e, out.tensors.size()});
    out.tensors.push_back(std::move(t));
  }

  // The data section must be covered exactly once: no overlaps (two tensors aliasing bytes), no holes
  // (the reference implementation rejects them too), no trailing bytes.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t pos = 0;
  const std::string* prev = nullptr;
  for (const Span& s : spans) {
    const std::string& name = out.tensors[s.index].name;
    if (s.begin < pos)
      fail(file, ": tensor '", name, "' data_offsets [", s.begin, ", ", s.end, "] overlap tensor '", *prev,
           "' (which ends at ", pos, ")");
    if (s.begin > pos)
      fail(file, ": hole in the data section: bytes [", pos, ", ", s.begin, ") before tensor '", name,
           "' belong to no tensor");
    pos = s.end;
    prev = &name;
  }
  if (pos != data_size) fail(file, ": data section is ", data_size, " bytes but the tensors cover only ", pos);
  return out;
}

TensorStore TensorStore::open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  TensorStore s;
  s.source_ = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path.string(), ": not found");
  if (!fs::is_directory(path, ec)) {
    s.add_file(path);
    return s;
  }
  const fs::path index = path / "model.safetensors.index.json";
  const fs::path single = path / "model.safetensors";
  if (fs::exists(index, ec)) {
    const std::string isrc = index.string();
    nlohmann::json j = read_json_file(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail(isrc, ": missing 'weight_map' object");
    std::map<std::string, std::string> wanted;  // tensor → shard
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : j["weight_map"].items()) {
      if (!shard.is_string()) fail(isrc, ": weight_map entry for '", tensor, "' is not a file name");
      const std::string f = shard.get<std::string>();
      if (f.empty() || fs::path(f).is_absolute() || f.find("..") != std::string::npos)
        fail(isrc, ": shard name '", f, "' for tensor '", tensor, "' must be a plain file name in ", path.string());
      wanted[tensor] = f;
      shards.insert(f);
    }
    if (shards.empty()) fail(isrc, ": weight_map is empty");
    for (const auto& f : shards) {
      if (!fs::is_regular_file(path / f, ec))
        fail(isrc, ": names shard '", f, "' which does not exist in ", path.string());
      s.add_file(path / f);
    }
    for (const auto& [tensor, shard] : wanted) {
      const TensorInfo* t = s.find(tensor);
      const std::string shard_path = (path / shard).string();
      if (!t || t->file != shard_path)
        fail(isrc, ": tensor '", tensor, "' should be in shard '", shard, "' but that file does not have it");
    }
    if (j.contains("metadata") && j["metadata"].is_object())
      for (const auto& [k, v] : j["metadata"].items())
        if (!s.metadata_.count(k)) s.metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
    return s;
  }
  if (fs::exists(single, ec)) {
    s.add_file(single);
    return s;
  }
  fail(path.string(), ": directory has neither model.safetensors nor model.safetensors.index.json");
}

void TensorStore::add_file(const std::filesystem::path& file) {
  auto mf = std::make_unique<MappedFile>(file);
  ParsedHeader h = parse_safetensors(mf->data(), mf->size(), mf->path());
  for (auto& t : h.tensors) {
    auto it = tensors_.find(t.name);
    if (it != tensors_.end()) fail(file.string(), ": tensor '", t.name, "' is also in ", it->second.file);
    std::string name = t.name;
    tensors_.emplace(std::move(name), std::move(t));
  }
  for (auto& [k, v] : h.metadata) metadata_.emplace(k, v);  // first file wins
  files_.push_back(std::move(mf));
}

const TensorInfo* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorInfo& TensorStore::get(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) fail(source_, ": no tensor '", name, "'");
  return *t;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> v;
  v.reserve(tensors_.size());
  for (const auto& kv : tensors_) v.push_back(kv.first);
  return v;
}

void TensorStore::check_shape(const std::string& name, std::span<const int64_t> expected) const {
  const TensorInfo& t = get(name);
  if (!std::equal(t.shape.begin(), t.shape.end(), expected.begin(), expected.end()))
    fail(t.file, ": tensor '", name, "' has shape ", shape_str(t.shape), ", expected ", shape_str(expected));
}

void TensorStore::convert(const TensorInfo& t, float* dst) const {
  if (!dtype_is_float(t.dtype))
    fail(t.file, ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype), ", expected F32, F16 or BF16");
  convert_to_f32(t.dtype, t.data, static_cast<size_t>(t.numel), dst);
  for (const auto& f : files_) f->release(t.data, t.nbytes);  // the copy is the caller's now (core/mapped_file.h)
}

Mat TensorStore::to_f32(const std::string& name) const {
  const TensorInfo& t = get(name);
  if (t.shape.size() == 2) {
    Mat m(t.shape[0], t.shape[1]);
    convert(t, m.data());
    return m;
  }
  if (t.shape.size() == 1) {
    Mat m(1, t.shape[0]);
    convert(t, m.data());
    return m;
  }
  fail(t.file, ": tensor '", name, "' has shape ", shape_str(t.shape), ", expected a matrix or a vector");
}

Mat TensorStore::to_f32(const std::string& name, int64_t rows, int64_t cols) const {
  const int64_t want[2] = {rows, cols};
  check_shape(name, want);
  return to_f32(name);
}

Vec TensorStore::to_vec(const std::string& name, int64_t n) const {
  const int64_t want[1] = {n};
  check_shape(name, want);
  const TensorInfo& t = get(name);
  Vec v(static_cast<size_t>(n));
  convert(t, v.data());
  return v;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Header first: offsets follow the given order, back to back.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !seen.insert(t.name).second)
      fail(path.string(), ": cannot write tensor name '", t.name, "' (empty, reserved or duplicate)");
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
      fail(path.string(), ": tensor '", t.name, "': can only write F32, F16 or BF16, not ", dtype_name(t.dtype));
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      DUQ_CHECK(d >= 0, "tensor ", t.name, " has a negative dimension");
      numel *= d;
    }
    if (!t.produce)
      DUQ_CHECK(static_cast<int64_t>(t.data.size()) == numel, "tensor ", t.name, ": shape ", shape_str(t.shape),
                " but ", t.data.size(), " values");
    const uint64_t nbytes = static_cast<uint64_t>(numel) * dtype_size(t.dtype);
    header[t.name] = {
        {"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h = header.dump();
  h.append((8 - (8 + h.size()) % 8) % 8, ' ');  // data section starts 8-byte aligned

  AtomicFile f(path);
  const uint64_t n = h.size();
  f.write(&n, 8);
  f.write(h);
  std::vector<uint8_t> buf;
  constexpr size_t kChunk = 1 << 16;  // elements converted per write
  for (const auto& t : tensors) {
    const size_t es = dtype_size(t.dtype);
    const std::span<const float> data = t.produce ? t.produce() : t.data;
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    DUQ_CHECK(static_cast<int64_t>(data.size()) == numel, "tensor ", t.name, ": shape ", shape_str(t.shape), " but ",
              data.size(), " values");
    for (size_t i = 0; i < data.size(); i += kChunk) {
      const size_t k = std::min(kChunk, data.size() - i);
      buf.resize(k * es);
      convert_from_f32(t.dtype, data.data() + i, k, buf.data());
      f.write(buf.data(), buf.size());
    }
  }
  f.commit();
}

}  // namespace duq::formats
