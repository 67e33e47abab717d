#include "kernels/gemm_f32.h"

#include <cblas.h>

namespace duq::kernels {

void matmul_xwt(ConstMatView x, ConstMatView w, MatView y, bool accumulate) {
  DUQ_CHECK(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "matmul_xwt shapes");
  if (x.rows == 0 || w.rows == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(x.rows), static_cast<int>(w.rows),
              static_cast<int>(x.cols), 1.f, x.data, static_cast<int>(x.ld), w.data, static_cast<int>(w.ld),
              accumulate ? 1.f : 0.f, y.data, static_cast<int>(y.ld));
}

void matmul(ConstMatView a, ConstMatView b, MatView y, bool accumulate) {
  DUQ_CHECK(a.cols == b.rows && y.rows == a.rows && y.cols == b.cols, "matmul shapes");
  if (a.rows == 0 || b.cols == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(a.rows), static_cast<int>(b.cols),
              static_cast<int>(a.cols), 1.f, a.data, static_cast<int>(a.ld), b.data, static_cast<int>(b.ld),
              accumulate ? 1.f : 0.f, y.data, static_cast<int>(y.ld));
}

void matmul_at_b(ConstMatView a, ConstMatView b, MatView y, bool accumulate) {
  DUQ_CHECK(a.rows == b.rows && y.rows == a.cols && y.cols == b.cols, "matmul_at_b shapes");
  if (a.cols == 0 || b.cols == 0) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(a.cols), static_cast<int>(b.cols),
              static_cast<int>(a.rows), 1.f, a.data, static_cast<int>(a.ld), b.data, static_cast<int>(b.ld),
              accumulate ? 1.f : 0.f, y.data, static_cast<int>(y.ld));
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace duq::kernels
