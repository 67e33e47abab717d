// Hadamard matrices of non-power-of-two order from finite fields (Paley's constructions), the small factor
// A of the Kronecker products H_n = A ⊗ H_{2^k} in transform/hadamard.h.
//   Paley I  (q a prime power ≡ 3 mod 4): order q + 1, H = I + [[0, 1ᵀ], [−1, Q]], Q[a][b] = χ(a − b);
//   Paley II (q a prime power ≡ 1 mod 4): order 2(q + 1), H = C ⊗ [[1, 1], [1, −1]] + I ⊗ [[1, −1], [−1, −1]]
//            with the symmetric conference matrix C = [[0, 1ᵀ], [1, Q]].
// χ is the quadratic character of GF(q) (1 on nonzero squares, −1 on non-squares, 0 at 0). GF(p^k) is built
// as GF(p)[x]/f(x) with the first monic irreducible f of degree k (k ≤ 3: irreducible ⇔ no root). Field
// elements are numbered by their coefficients in base p (constant term lowest), so for a prime q the
// numbering is the integers 0..q−1 and Paley I is the matrix the earlier prime-only code produced.
// Orders reached for LLaMA widths: 12, 20, 28 (GF(27) or Paley II of 13), 44, 60, 108, 344 (GF(343)): 172 and
// 156 need Williamson-type matrices, which are not generated, so 11008 = 43·256 uses 344 ⊗ H_32.
#pragma once
#include <cstdint>

#include "transform/dmat.h"

namespace duq::transform {

// Unnormalised (±1 entries) Paley-I matrix of order q + 1, or an empty MatD when order − 1 is not a prime
// power ≡ 3 mod 4 that this file can build a field for.
MatD paley1_pm1(int64_t order);
// Unnormalised Paley-II matrix of order 2(q + 1), or empty when order/2 − 1 is not a prime power ≡ 1 mod 4.
MatD paley2_pm1(int64_t order);
// The first of the two that exists (Paley I preferred), normalised by 1/√order; empty MatD if neither.
MatD hadamard_of_order(int64_t order);

}  // namespace duq::transform
