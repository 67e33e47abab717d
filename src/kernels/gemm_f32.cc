#include "kernels/gemm_f32.h"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "core/threads.h"
#include "kernels/cpu_features.h"
#include "kernels/row_gemm_internal.h"

namespace duq::kernels {

namespace {

// OpenBLAS always runs single-threaded (core/threads.h); large products are split here over our threads by
// output columns into fixed chunks of kChunk columns, each chunk one sgemm / sgemv call on offset views, the
// chunks shared out over the threads. The chunks depend on the shape only, never on the thread count: OpenBLAS's
// sgemm is not split-invariant on every core (Zen/Haswell kernels give other bits for a column when the call
// has other M or N; SkylakeX's happen to agree), so one call per thread's range would make the float results
// depend on --threads. Measured on Zen (1 thread, M = 512, K = 2048): 256-column chunks cost 2-4% against one
// call. Products below kMinParallelFlops are one call.
constexpr int64_t kChunk = 256;
constexpr double kMinParallelFlops = 8e6;  // ~0.1 ms on one core

void split_columns(int64_t n, double flops, const std::function<void(int64_t, int64_t)>& call) {
  if (flops < kMinParallelFlops || n <= kChunk) {
    call(0, n);
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const auto run = [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) call(u * kChunk, std::min(n, (u + 1) * kChunk) - u * kChunk);
  };
  if (num_threads() < 2 || in_parallel()) run(0, chunks);
  else parallel_ranges(chunks, run);
}

double flops(int64_t m, int64_t n, int64_t k) { return 2.0 * double(m) * double(n) * double(k); }

}  // namespace

void matmul_xwt(ConstMatView x, ConstMatView w, MatView y, bool accumulate) {
  DUQ_CHECK(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "matmul_xwt shapes");
  if (x.rows == 0 || w.rows == 0) return;
  if (x.rows ==
      1) {  // one token (decode): sgemv streams W once; OpenBLAS 0.3.21's sgemm would pack it first (2x slower)
    split_columns(w.rows, flops(1, w.rows, x.cols), [&](int64_t c0, int64_t cn) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(cn), static_cast<int>(w.cols), 1.f, w.row(c0),
                  static_cast<int>(w.ld), x.data, 1, accumulate ? 1.f : 0.f, y.data + c0, 1);
    });
    return;
  }
  split_columns(w.rows, flops(x.rows, w.rows, x.cols), [&](int64_t c0, int64_t cn) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(x.rows), static_cast<int>(cn),
                static_cast<int>(x.cols), 1.f, x.data, static_cast<int>(x.ld), w.row(c0), static_cast<int>(w.ld),
                accumulate ? 1.f : 0.f, y.data + c0, static_cast<int>(y.ld));
  });
}

void matvec(ConstMatView w, const float* x, float* y) {
  if (w.rows == 0) return;
  split_columns(w.rows, flops(1, w.rows, w.cols), [&](int64_t c0, int64_t cn) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(cn), static_cast<int>(w.cols), 1.f, w.row(c0),
                static_cast<int>(w.ld), x, 1, 0.f, y + c0, 1);
  });
}

const char* openblas_core() { return openblas_get_corename(); }

const char* openblas_core_to_request() {
  if (std::getenv("OPENBLAS_CORETYPE")) return nullptr;
  const std::string core = openblas_get_corename();
  const Isa isa = active_isa();
  if (isa == Isa::Avx512Vnni)
    return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids" ? nullptr : "SkylakeX";
  if (isa == Isa::Avx2) return core == "Haswell" || core == "Zen" || core == "SkylakeX" ? nullptr : "Haswell";
  return nullptr;
}

namespace {
// The row-invariant product's ISA dispatch (every path computes the same bits: row_gemm_internal.h).
void run_row_gemm(const detail::RowGemmArgs& a) {
  switch (active_isa()) {
#if DUQ_KERNELS_X86  // the x86/ files are compiled (src/kernels/CMakeLists.txt)
    case Isa::Avx512Vnni: detail::row_gemm_avx512(a); break;
    case Isa::Avx2: detail::row_gemm_avx2(a); break;
#endif
    default: detail::row_gemm_ref(a); break;
  }
}
}  // namespace

void matmul_xwt_rows(ConstMatView x, ConstMatView w, MatView y) {
  DUQ_CHECK(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "matmul_xwt_rows shapes");
  if (x.rows == 0 || w.rows == 0) return;
  split_columns(w.rows, flops(x.rows, w.rows, x.cols), [&](int64_t c0, int64_t cn) {
    run_row_gemm({x.data, w.row(c0), y.data + c0, x.rows, cn, x.cols, x.ld, w.ld, y.ld});
  });
}

void matmul_xwt_rows_f16(ConstMatView x, const uint16_t* w, int64_t n, int64_t ldw, MatView y) {
  DUQ_CHECK(y.rows == x.rows && y.cols == n && ldw >= x.cols, "matmul_xwt_rows_f16 shapes");
  if (x.rows == 0 || n == 0) return;
  split_columns(n, flops(x.rows, n, x.cols), [&](int64_t c0, int64_t cn) {
    run_row_gemm({x.data, nullptr, y.data + c0, x.rows, cn, x.cols, x.ld, ldw, y.ld, w + c0 * ldw});
  });
}

void matmul(ConstMatView a, ConstMatView b, MatView y, bool accumulate) {
  DUQ_CHECK(a.cols == b.rows && y.rows == a.rows && y.cols == b.cols, "matmul shapes");
  if (a.rows == 0 || b.cols == 0) return;
  split_columns(b.cols, flops(a.rows, b.cols, a.cols), [&](int64_t c0, int64_t cn) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(a.rows), static_cast<int>(cn),
                static_cast<int>(a.cols), 1.f, a.data, static_cast<int>(a.ld), b.data + c0, static_cast<int>(b.ld),
                accumulate ? 1.f : 0.f, y.data + c0, static_cast<int>(y.ld));
  });
}

void matmul_at_b(ConstMatView a, ConstMatView b, MatView y, bool accumulate) {
  DUQ_CHECK(a.rows == b.rows && y.rows == a.cols && y.cols == b.cols, "matmul_at_b shapes");
  if (a.cols == 0 || b.cols == 0) return;
  split_columns(b.cols, flops(a.cols, b.cols, a.rows), [&](int64_t c0, int64_t cn) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(a.cols), static_cast<int>(cn),
                static_cast<int>(a.rows), 1.f, a.data, static_cast<int>(a.ld), b.data + c0, static_cast<int>(b.ld),
                accumulate ? 1.f : 0.f, y.data + c0, static_cast<int>(y.ld));
  });
}

}  // namespace duq::kernels
