#include "quant/quant_spec.h"

#include "core/error.h"

namespace duq::quant {

void validate(const QuantSpec& spec) {
  if (spec.bits < 2 || spec.bits > 8) fail("bits must be between 2 and 8 (got ", spec.bits, ")");
  // Written as a negation so that a NaN clip is rejected too.
  if (!(spec.clip > 0.f && spec.clip <= 1.f)) fail("clip ratio must be in (0, 1] (got ", spec.clip, ")");
  if (spec.group_size < 0) fail("group size must be 0 (whole row) or positive (got ", spec.group_size, ")");
}

int64_t group_dim(const QuantSpec& spec, int64_t rows, int64_t cols) { return spec.axis == Axis::kRow ? cols : rows; }

void validate(const QuantSpec& spec, int64_t rows, int64_t cols) {
  validate(spec);
  const int64_t n = group_dim(spec, rows, cols);
  if (spec.group_size > n)
    fail("group size ", spec.group_size, " is larger than the ", spec.axis == Axis::kRow ? "row" : "column", " length ",
         n, "; use a group size of at most ", n, " or 0 for whole ", spec.axis == Axis::kRow ? "rows" : "columns");
}

int64_t effective_group(const QuantSpec& spec, int64_t rows, int64_t cols) {
  const int64_t n = group_dim(spec, rows, cols);
  return spec.group_size == 0 ? n : spec.group_size;
}

int64_t groups_per_line(const QuantSpec& spec, int64_t rows, int64_t cols) {
  const int64_t n = group_dim(spec, rows, cols);
  const int64_t g = effective_group(spec, rows, cols);
  return g == 0 ? 0 : (n + g - 1) / g;
}

}  // namespace duq::quant
