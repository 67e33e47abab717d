// Dense float matrices: an owning Mat and non-owning views. Everything in duquant that is 2-D
// (activations [T×D], weights [O×D] in PyTorch out×in layout) is one of these, row-major.
#pragma once
#include <cstdint>
#include <span>

#include "core/aligned.h"
#include "core/error.h"

namespace duq {

// Non-owning row-major view with a leading dimension (ld ≥ cols) so that column slices are views too.
template <class T>
struct MatViewT {
  T* data = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
  MatViewT() = default;
  MatViewT(T* d, int64_t r, int64_t c, int64_t l = -1) : data(d), rows(r), cols(c), ld(l < 0 ? c : l) {}
  template <class U>
  MatViewT(const MatViewT<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}
  T* row(int64_t i) const { return data + i * ld; }
  T& operator()(int64_t i, int64_t j) const { return data[i * ld + j]; }
  // rows [r0, r0+n)
  MatViewT rows_slice(int64_t r0, int64_t n) const { return MatViewT(data + r0 * ld, n, cols, ld); }
  // columns [c0, c0+n)
  MatViewT cols_slice(int64_t c0, int64_t n) const { return MatViewT(data + c0, rows, n, ld); }
  bool contiguous() const { return ld == cols; }
};
using MatView = MatViewT<float>;
using ConstMatView = MatViewT<const float>;

// Owning row-major matrix [rows × cols], zero-initialised, 64-byte aligned.
class Mat {
 public:
  Mat() = default;
  Mat(int64_t rows, int64_t cols) : rows_(rows), cols_(cols), v_(static_cast<size_t>(rows * cols), 0.f) {
    DUQ_CHECK(rows >= 0 && cols >= 0);
  }
  Mat(ConstMatView src) : Mat(src.rows, src.cols) {
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t j = 0; j < cols_; ++j) (*this)(i, j) = src(i, j);
  }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t size() const { return rows_ * cols_; }
  float* data() { return v_.data(); }
  const float* data() const { return v_.data(); }
  float* row(int64_t i) { return v_.data() + i * cols_; }
  const float* row(int64_t i) const { return v_.data() + i * cols_; }
  float& operator()(int64_t i, int64_t j) { return v_[static_cast<size_t>(i * cols_ + j)]; }
  float operator()(int64_t i, int64_t j) const { return v_[static_cast<size_t>(i * cols_ + j)]; }
  MatView view() { return MatView(v_.data(), rows_, cols_); }
  ConstMatView view() const { return ConstMatView(v_.data(), rows_, cols_); }
  ConstMatView cview() const { return view(); }
  operator MatView() { return view(); }
  operator ConstMatView() const { return view(); }
  std::span<float> flat() { return {v_.data(), v_.size()}; }
  std::span<const float> flat() const { return {v_.data(), v_.size()}; }
  void resize(int64_t rows, int64_t cols) {
    rows_ = rows;
    cols_ = cols;
    v_.assign(static_cast<size_t>(rows * cols), 0.f);
  }

 private:
  int64_t rows_ = 0, cols_ = 0;
  AlignedVector<float> v_;
};

using Vec = AlignedVector<float>;

}  // namespace duq
