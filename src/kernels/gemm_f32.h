// fp32 matrix products through BLAS (OpenBLAS). Weights are in PyTorch layout W [O×D] (out × in).
#pragma once
#include "core/tensor.h"

namespace duq::kernels {

// Y [T×O] = X [T×D] · Wᵀ (W [O×D]);  with accumulate, Y += X·Wᵀ.
void matmul_xwt(ConstMatView x, ConstMatView w, MatView y, bool accumulate = false);
// Y [T×N] = A [T×K] · B [K×N]
void matmul(ConstMatView a, ConstMatView b, MatView y, bool accumulate = false);
// Y [M×N] = Aᵀ · B with A [K×M], B [K×N] (e.g. XᵀX for a Hessian)
void matmul_at_b(ConstMatView a, ConstMatView b, MatView y, bool accumulate = false);
// Limits BLAS to n threads (benchmarks pin to 1).
void set_blas_threads(int n);

}  // namespace duq::kernels
