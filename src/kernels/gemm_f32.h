// fp32 matrix products through BLAS (OpenBLAS, always single-threaded: core/threads.h). Weights are in
// PyTorch layout W [O×D] (out × in). Large products split over num_threads() by output columns (ranges
// aligned to 64 columns, one BLAS call each); OpenBLAS's kernels sum over K in the same order whatever the
// column range, so the results do not depend on the thread count (tested).
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

}  // namespace duq::kernels
