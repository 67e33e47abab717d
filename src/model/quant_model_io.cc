#include "model/quant_model_io.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace duq::model::quant_io {

using formats::GgmlType;
using formats::GgufFile;
using formats::GgufWriter;

std::string blk(int l, const std::string& rest) { return "blk." + std::to_string(l) + "." + rest; }

void add_mat(GgufWriter& w, const std::string& name, const Mat& m) {
  w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(m.cols()), static_cast<uint64_t>(m.rows())},
               bytes_of(m.data(), static_cast<size_t>(m.size())));
}
void add_vec(GgufWriter& w, const std::string& name, const float* p, size_t n) {
  w.add_tensor(name, GgmlType::F32, {n}, bytes_of(p, n));
}

Mat read_mat(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols) {
  const uint64_t dims[2] = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
  const auto& t = f.tensor(name, GgmlType::F32, dims);
  Mat m(rows, cols);
  std::memcpy(m.data(), t.data, static_cast<size_t>(t.nbytes));
  for (float v : m.flat())
    if (!std::isfinite(v)) fail(f.path(), ": tensor ", name, " holds NaN or Inf");
  return m;
}

std::vector<float> read_fvec(const GgufFile& f, const std::string& name, int64_t n) {
  const uint64_t dims[1] = {static_cast<uint64_t>(n)};
  const auto& t = f.tensor(name, GgmlType::F32, dims);
  std::vector<float> v(static_cast<size_t>(n));
  std::memcpy(v.data(), t.data, static_cast<size_t>(t.nbytes));
  for (float x : v)
    if (!std::isfinite(x)) fail(f.path(), ": tensor ", name, " holds NaN or Inf");
  return v;
}

std::vector<int32_t> read_ivec(const GgufFile& f, const std::string& name, int64_t n) {
  const uint64_t dims[1] = {static_cast<uint64_t>(n)};
  const auto& t = f.tensor(name, GgmlType::I32, dims);
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::memcpy(v.data(), t.data, static_cast<size_t>(t.nbytes));
  return v;
}

void check_clip(const std::string& path, const std::string& what, float c) {
  if (!(c > 0.f && c <= 1.f)) fail(path, ": ", what, " = ", c, " is not a clip ratio in (0, 1]");
}

}  // namespace duq::model::quant_io
