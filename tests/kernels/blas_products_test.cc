// matmul_xwt (gemm_f32.h), the BLAS product of every float linear: one row (decode) goes through sgemv, more rows
// through sgemm; both, on strided views, with and without accumulation and at 1 to 3 threads (column splits),
// are checked against a double-precision product computed here.
#include <gtest/gtest.h>

#include <cmath>

#include "core/threads.h"
#include "kernel_test_util.h"
#include "kernels/gemm_f32.h"

namespace duq {
namespace {

TEST(BlasProducts, OneRowAndManyRowsMatchDoublePrecision) {
  Rng rng(21);
  for (int threads : {1, 2, 3})
    for (int64_t m : {1, 2, 5})
      for (bool accumulate : {false, true}) {
        set_threads(threads);
        const int64_t n = 300, k = 129;  // n: several column chunks at 3 threads, k: not a multiple of 16
        const Mat xs = test::random_mat(rng, m, k + 3), w = test::random_mat(rng, n, k, 0.1f);
        const Mat y0 = test::random_mat(rng, m, n + 5);
        Mat y = y0;
        const ConstMatView x = xs.view().cols_slice(1, k);  // row stride k + 3
        kernels::matmul_xwt(x, w, y.view().cols_slice(2, n), accumulate);
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t c = 0; c < n; ++c) {
            double dot = accumulate ? double(y0(r, c + 2)) : 0.0, mag = std::fabs(dot);
            for (int64_t i = 0; i < k; ++i) {
              dot += double(x.row(r)[i]) * double(w(c, i));
              mag += std::fabs(double(x.row(r)[i]) * double(w(c, i)));
            }
            ASSERT_NEAR(y(r, c + 2), dot, 1e-6 * mag * double(k / 8 + 5)) << "m " << m << " threads " << threads;
          }
          // columns outside the view are untouched
          EXPECT_EQ(y(r, 0), y0(r, 0));
          EXPECT_EQ(y(r, n + 4), y0(r, n + 4));
        }
      }
  set_threads(1);
}

}  // namespace
}  // namespace duq
