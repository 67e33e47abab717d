// fp32 matrix products through BLAS (OpenBLAS, always single-threaded: core/threads.h). Weights are in
// PyTorch layout W [O×D] (out × in). Large products split by output columns into fixed 256-column chunks, one
// BLAS call each, shared out over num_threads(): the chunks depend on the shape only, so the results do not
// depend on the thread count even where OpenBLAS's sgemm gives other bits for other call shapes (its Zen and
// Haswell kernels do; tested at 1, 2, 3 threads).
#pragma once
#include "core/tensor.h"

namespace duq::kernels {

// Y [T×O] = X [T×D] · Wᵀ (W [O×D]);  with accumulate, Y += X·Wᵀ.
void matmul_xwt(ConstMatView x, ConstMatView w, MatView y, bool accumulate = false);
// Y [T×N] = A [T×K] · B [K×N]
void matmul(ConstMatView a, ConstMatView b, MatView y, bool accumulate = false);
// Y [M×N] = Aᵀ · B with A [K×M], B [K×N] (e.g. XᵀX for a Hessian)
void matmul_at_b(ConstMatView a, ConstMatView b, MatView y, bool accumulate = false);
// y [O] = W [O×D] · x [D] (sgemv; decode).
void matvec(ConstMatView w, const float* x, float* y);

// The OpenBLAS kernel set (an OPENBLAS_CORETYPE value) to ask for on this CPU, or nullptr when OpenBLAS's own
// choice is already right or OPENBLAS_CORETYPE is set. OpenBLAS picks its kernels from the CPU model; 0.3.21
// falls back to its SSE3 (Prescott) kernels on CPUs it does not know (e.g. virtual machines reporting a generic
// "Intel Xeon Processor"), ~5× slower sgemm than SkylakeX on an AVX-512 core. Asks for SkylakeX on AVX-512 and
// Haswell on AVX2 (from the ISA our kernels detected). The variable is read when the library loads, so the
// caller re-executes the program with it set (tools/commands.cc).
const char* openblas_core_to_request();
// The OpenBLAS kernel set in use (e.g. "SkylakeX").
const char* openblas_core();

// Y [M×N] = X [M×K] · Wᵀ (W [N×K]), row-invariant (batched decoding, model/batch_forward.cc): Y[r][c] is the
// same bits whatever M, the other rows, the thread count and the ISA path, because every element is computed
// by one fixed sequence of operations (not BLAS: its blocking, hence its sums, change with M):
//   acc[0..15] = 0;  for each 16-column block b of K (columns past K read as 0), lane j:
//     acc[j] = fma(X[r][16b + j], W[c][16b + j], acc[j]);
//   then the fixed tree  for s = 8, 4, 2, 1: acc[j] += acc[j + s] (j < s);  Y[r][c] = acc[0].
// W is streamed once for any M (micro-tiles of rows × outputs reuse each W block from cache), so M = 1 costs
// a GEMV, not a padded batch. Scalar reference and SIMD paths: kernels/row_gemm_internal.h.
void matmul_xwt_rows(ConstMatView x, ConstMatView w, MatView y);
// The same product with W [n × x.cols] stored as IEEE half (row stride ldw halves), read in place: each half is
// widened exactly (f16 → f32) and the arithmetic is matmul_xwt_rows's, so Y is bit-identical to
// matmul_xwt_rows on the widened matrix, with half the bytes streamed (the classifier of a quantized file).
void matmul_xwt_rows_f16(ConstMatView x, const uint16_t* w, int64_t n, int64_t ldw, MatView y);

}  // namespace duq::kernels
