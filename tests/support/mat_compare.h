// Relative difference of two matrices of one shape: ‖a − b‖_F / ‖b‖_F (b the reference), in double.
#pragma once
#include <cmath>

#include "core/tensor.h"

namespace duq::test {

inline double rel_frobenius_diff(const Mat& a, const Mat& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < b.size(); ++i) {
    const double d = double(a.data()[i]) - b.data()[i];
    num += d * d;
    den += double(b.data()[i]) * b.data()[i];
  }
  return std::sqrt(num / den);
}

}  // namespace duq::test
