// Dense linear algebra GPTQ needs, in plain C++ (the quant layer links no BLAS): a register-tiled
// C −= A·B, a blocked Cholesky factorisation and the upper Cholesky factor of an inverse. The hot loops are
// compiled for AVX-512 / AVX2 / baseline and chosen at load time (GCC target_clones), so they run at a good
// fraction of the core's peak without per-file compile flags. All matrices are row-major with a leading
// dimension.
#pragma once
#include <cstdint>
#include <vector>

namespace duq::quant {

// C [m×n] −= A [m×k] · B [k×n]
void gemm_sub(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc);
void gemm_sub(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb, double* c,
              int64_t ldc);

// In place: the lower triangle of a [n×n] (symmetric positive definite, lower triangle read) becomes L with
// A = L·Lᵀ; the strict upper triangle is zeroed. Returns false (a partially overwritten) when A is not
// positive definite.
bool cholesky_lower(std::vector<double>& a, int64_t n);

// In place: lower-triangular L [n×n] becomes L⁻¹ (lower triangular).
void invert_lower(std::vector<double>& l, int64_t n);

// U [n×n] upper triangular with positive diagonal and Uᵀ·U = H⁻¹ for symmetric positive definite H (what
// torch.linalg.cholesky(H⁻¹, upper=True) returns, without forming H⁻¹): with J the reversal, the lower
// Cholesky factor L̃ of J·H·J gives U = J·L̃⁻¹·J. Returns false when H is not positive definite.
bool inverse_upper_cholesky(const std::vector<double>& h, int64_t n, std::vector<double>& u);

}  // namespace duq::quant
