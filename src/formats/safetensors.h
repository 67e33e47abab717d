// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [b, e]}, ..., "__metadata__":
// {str: str}}, then the data section; offsets are relative to the data section.
// Reading maps the file and validates every header entry before any tensor is touched, so a truncated or
// hostile file fails with a message naming the file and the tensor instead of reading out of bounds.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"
#include "formats/dtype.h"

namespace duq::formats {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // [] for a scalar
  int64_t numel = 0;
  const uint8_t* data = nullptr;  // into the mapped file; may be unaligned
  size_t nbytes = 0;
  std::string file;  // the .safetensors file holding it
};

std::string shape_str(std::span<const int64_t> shape);  // "[4096, 11008]"

class TensorStore {
 public:
  // `path` is a .safetensors file, or a directory holding model.safetensors.index.json (sharded: the
  // index's weight_map names, per tensor, the shard file next to it) or else model.safetensors.
  static TensorStore open(const std::filesystem::path& path);

  TensorStore() = default;
  TensorStore(TensorStore&&) noexcept = default;
  TensorStore& operator=(TensorStore&&) noexcept = default;

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo* find(const std::string& name) const;
  // Throws duq::Error "<source>: no tensor 'name'" when absent.
  const TensorInfo& get(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return tensors_.size(); }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }  // the file or directory opened

  // Throws duq::Error naming tensor, file, expected and actual shape unless `name` has `expected`.
  void check_shape(const std::string& name, std::span<const int64_t> expected) const;
  // The tensor as fp32 [rows × cols] (a 1-D tensor of n elements gives [1 × n]).
  Mat to_f32(const std::string& name) const;
  // Same, after checking the shape is exactly [rows, cols].
  Mat to_f32(const std::string& name, int64_t rows, int64_t cols) const;
  // A 1-D tensor of exactly n elements as fp32.
  Vec to_vec(const std::string& name, int64_t n) const;

 private:
  void add_file(const std::filesystem::path& file);  // maps, validates and indexes one file
  void convert(const TensorInfo& t, float* dst) const;

  std::string source_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Validates a header's bytes against a file of `file_size` bytes and returns its tensors (data pointers
// relative to `base`) and metadata. Exposed so tests can check each malformed case without a file.
struct ParsedHeader {
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};
ParsedHeader parse_safetensors(const uint8_t* base, size_t file_size, const std::string& file);

// One tensor to write: fp32 values converted to `dtype` (F32, F16 or BF16) on the way out.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const float> data;  // numel(shape) values, row-major
  // Or, when set, called just before the tensor's bytes are written (data is then ignored): a writer can
  // produce each tensor when its turn comes, holding one at a time. The span must stay valid until the
  // next call of any tensor's produce.
  std::function<std::span<const float>()> produce = {};
};

// Writes `tensors` to `path` atomically (nothing at `path` changes unless the whole file is written).
// The header is padded with spaces so the data section starts at a multiple of 8 bytes; tensors follow
// back to back in the given order (the format forbids holes), so F32 data stays 4-byte aligned when
// every tensor before it has an even number of 2-byte elements or is F32.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace duq::formats
