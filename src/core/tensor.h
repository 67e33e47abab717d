// Dense matrices: the owning Matrix<T> (Mat = Matrix<float>) and non-owning views. Everything in duquant that
// is 2-D (activations [T×D], weights [O×D] in PyTorch out×in layout) is one of these, row-major.
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

// Owning row-major matrix [rows × cols] of T (float for activations and weights, double where rotations are
// built and where gradients are checked), zero-initialised, 64-byte aligned.
template <class T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(int64_t rows, int64_t cols) : rows_(rows), cols_(cols), v_(static_cast<size_t>(rows * cols), T(0)) {
    DUQ_CHECK(rows >= 0 && cols >= 0);
  }
  Matrix(MatViewT<const T> src) : Matrix(src.rows, src.cols) {
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t j = 0; j < cols_; ++j) (*this)(i, j) = src(i, j);
  }
  // [n×n] with ones on the diagonal.
  static Matrix identity(int64_t n) {
    Matrix m(n, n);
    for (int64_t i = 0; i < n; ++i) m(i, i) = T(1);
    return m;
  }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t size() const { return rows_ * cols_; }
  bool empty() const { return v_.empty(); }
  T* data() { return v_.data(); }
  const T* data() const { return v_.data(); }
  T* row(int64_t i) { return v_.data() + i * cols_; }
  const T* row(int64_t i) const { return v_.data() + i * cols_; }
  T& operator()(int64_t i, int64_t j) { return v_[static_cast<size_t>(i * cols_ + j)]; }
  T operator()(int64_t i, int64_t j) const { return v_[static_cast<size_t>(i * cols_ + j)]; }
  MatViewT<T> view() { return MatViewT<T>(v_.data(), rows_, cols_); }
  MatViewT<const T> view() const { return MatViewT<const T>(v_.data(), rows_, cols_); }
  MatViewT<const T> cview() const { return view(); }
  operator MatViewT<T>() { return view(); }
  operator MatViewT<const T>() const { return view(); }
  std::span<T> flat() { return {v_.data(), v_.size()}; }
  std::span<const T> flat() const { return {v_.data(), v_.size()}; }
  // New shape, zero-filled.
  void resize(int64_t rows, int64_t cols) {
    rows_ = rows;
    cols_ = cols;
    v_.assign(static_cast<size_t>(rows * cols), T(0));
  }
  // New shape with the same number of entries, data kept in row-major order.
  void reshape(int64_t rows, int64_t cols) {
    DUQ_CHECK(rows >= 0 && cols >= 0 && rows * cols == size(), "reshape");
    rows_ = rows;
    cols_ = cols;
  }

 private:
  int64_t rows_ = 0, cols_ = 0;
  AlignedVector<T> v_;
};
using Mat = Matrix<float>;

using Vec = AlignedVector<float>;

}  // namespace duq
