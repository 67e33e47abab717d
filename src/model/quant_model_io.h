// GGUF reading and writing helpers shared by the quantized-model file's parts (model/quant_model.cc: the
// file as a whole; model/site_transform_io.cc: one linear input's online transform). Internal to model/.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/gguf.h"
#include "model/quant_model.h"

namespace duq::model::quant_io {

// "blk.<l>.<rest>"
std::string blk(int l, const std::string& rest);

// Tensor bytes views for the writer (the data must outlive write()).
template <class T>
std::span<const uint8_t> bytes_of(const T* p, size_t n) {
  return {reinterpret_cast<const uint8_t*>(p), n * sizeof(T)};
}
struct Owned {  // storage for converted arrays that the writer references
  std::vector<std::vector<uint8_t>> bytes;
};

// F32 tensors: a matrix [rows × cols] (GGUF dims cols, rows) and a vector.
void add_mat(formats::GgufWriter& w, const std::string& name, const Mat& m);
void add_vec(formats::GgufWriter& w, const std::string& name, const float* p, size_t n);

// Checked reads (type, shape, finite floats): each failure names the file and the tensor.
Mat read_mat(const formats::GgufFile& f, const std::string& name, int64_t rows, int64_t cols);
std::vector<float> read_fvec(const formats::GgufFile& f, const std::string& name, int64_t n);
std::vector<int32_t> read_ivec(const formats::GgufFile& f, const std::string& name, int64_t n);
// Refuses a clip ratio outside (0, 1].
void check_clip(const std::string& path, const std::string& what, float c);

// One linear input's online transform under `base` ("blk.L.<site>"): its kind, smoothing, rotations and
// permutations or Hadamard seed, activation clip, duquant-auto's choice and wide channels. The reader checks
// each against the input's width and the file's format version `ver`.
void write_site_transform(formats::GgufWriter& w, Owned& own, const std::string& base, const OnlineTransform& t);
OnlineTransform read_site_transform(const formats::GgufFile& f, const std::string& base, int64_t width, uint32_t ver);

}  // namespace duq::model::quant_io
