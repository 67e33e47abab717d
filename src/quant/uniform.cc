#include "quant/uniform.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace duq::quant {

namespace {

inline float clampf(float v, float lo, float hi) { return std::fmin(std::fmax(v, lo), hi); }

// Calls f(group_index, lo, hi, index_of_line...) for the groups of a line of length n.
template <class F>
void for_each_group(int64_t n, int64_t g, F&& f) {
  for (int64_t gi = 0, c0 = 0; c0 < n; ++gi, c0 += g) f(gi, c0, std::min(n, c0 + g));
}

// Applies the spec to every group of x, calling emit(i, j, code, params) for each element.
// kRow groups are runs of columns of one row; kColumn groups are runs of rows of one column, visited
// row-group by row-group so that memory is read row-major (per-column min/max kept in a vector).
template <class Emit, class Params>
void run(ConstMatView x, const QuantSpec& spec, Params&& store_params, Emit&& emit) {
  validate(spec, x.rows, x.cols);
  const int64_t g = effective_group(spec, x.rows, x.cols);
  if (x.rows == 0 || x.cols == 0) return;
  if (spec.axis == Axis::kRow) {
    for (int64_t i = 0; i < x.rows; ++i) {
      const float* r = x.row(i);
      for_each_group(x.cols, g, [&](int64_t gi, int64_t c0, int64_t c1) {
        const auto [mn, mx] = std::minmax_element(r + c0, r + c1);
        const GroupParams p = group_params(*mn, *mx, spec);
        store_params(i, gi, p);
        for (int64_t j = c0; j < c1; ++j) emit(i, j, quantize_value(r[j], p, spec), p);
      });
    }
    return;
  }
  std::vector<float> mn(static_cast<size_t>(x.cols)), mx(static_cast<size_t>(x.cols));
  std::vector<GroupParams> ps(static_cast<size_t>(x.cols));
  for_each_group(x.rows, g, [&](int64_t gi, int64_t r0, int64_t r1) {
    std::copy(x.row(r0), x.row(r0) + x.cols, mn.begin());
    std::copy(x.row(r0), x.row(r0) + x.cols, mx.begin());
    for (int64_t i = r0 + 1; i < r1; ++i) {
      const float* r = x.row(i);
      for (int64_t j = 0; j < x.cols; ++j) {
        mn[j] = std::min(mn[j], r[j]);
        mx[j] = std::max(mx[j], r[j]);
      }
    }
    for (int64_t j = 0; j < x.cols; ++j) {
      ps[j] = group_params(mn[j], mx[j], spec);
      store_params(gi, j, ps[j]);
    }
    for (int64_t i = r0; i < r1; ++i) {
      const float* r = x.row(i);
      for (int64_t j = 0; j < x.cols; ++j) emit(i, j, quantize_value(r[j], ps[j], spec), ps[j]);
    }
  });
}

}  // namespace

GroupParams group_params(float xmin, float xmax, const QuantSpec& spec) {
  DUQ_CHECK(!(xmin > xmax), "group_params: xmin > xmax");
  const float lo = spec.clip * xmin, hi = spec.clip * xmax;
  GroupParams p;
  if (spec.symmetric) {
    const float qpos = static_cast<float>((1 << (spec.bits - 1)) - 1);
    p.scale = clampf(std::fmax(std::fabs(lo), std::fabs(hi)) / qpos, kMinScale, kMaxScale);
    p.zero = 1 << (spec.bits - 1);
  } else {
    const float qmax = static_cast<float>((1 << spec.bits) - 1);
    p.scale = clampf((hi - lo) / qmax, kMinScale, kMaxScale);
    p.zero = static_cast<int32_t>(std::nearbyint(clampf(-lo / p.scale, -kZeroPointLimit, kZeroPointLimit)));
  }
  return p;
}

int32_t quantize_value(float x, GroupParams p, const QuantSpec& spec) {
  // Clamped in float before the conversion: x/Δ may exceed the int range (and NaN maps to the low end).
  const float r = std::nearbyint(x / p.scale);
  if (spec.symmetric) {
    const float qpos = static_cast<float>((1 << (spec.bits - 1)) - 1);
    return static_cast<int32_t>(clampf(r, spec.full_range ? -qpos - 1.f : -qpos, qpos)) + p.zero;
  }
  const float qmax = static_cast<float>((1 << spec.bits) - 1);
  return static_cast<int32_t>(clampf(r + static_cast<float>(p.zero), 0.f, qmax));
}

QuantizedMat quantize(ConstMatView x, const QuantSpec& spec) {
  validate(spec, x.rows, x.cols);
  QuantizedMat q;
  q.rows = x.rows;
  q.cols = x.cols;
  q.spec = spec;
  q.group = effective_group(spec, x.rows, x.cols);
  q.groups_per_line = groups_per_line(spec, x.rows, x.cols);
  q.codes.assign(static_cast<size_t>(x.rows * x.cols), 0);
  const int64_t lines = spec.axis == Axis::kRow ? x.rows : x.cols;
  q.params.assign(static_cast<size_t>(lines * q.groups_per_line), GroupParams{});
  run(
      x, spec,
      [&](int64_t a, int64_t b, GroupParams p) {
        // kRow: (row, group); kColumn: (row group, column) — the layouts param_index reads.
        const int64_t idx = spec.axis == Axis::kRow ? a * q.groups_per_line + b : a * x.cols + b;
        q.params[static_cast<size_t>(idx)] = p;
      },
      [&](int64_t i, int64_t j, int32_t code, GroupParams) {
        q.codes[static_cast<size_t>(i * x.cols + j)] = static_cast<uint8_t>(code);
      });
  return q;
}

void dequantize(const QuantizedMat& q, MatView out) {
  DUQ_CHECK(out.rows == q.rows && out.cols == q.cols, "dequantize: output shape");
  for (int64_t i = 0; i < q.rows; ++i)
    for (int64_t j = 0; j < q.cols; ++j)
      out(i, j) = dequantize_value(q.code(i, j), q.params[static_cast<size_t>(q.param_index(i, j))]);
}

void fake_quant(MatView x, const QuantSpec& spec) {
  // Reads and writes the same element: emit is called after the group's params are computed from the
  // unmodified values, and each element is read exactly once before it is overwritten.
  run(
      ConstMatView(x), spec, [](int64_t, int64_t, GroupParams) {},
      [&](int64_t i, int64_t j, int32_t code, GroupParams p) { x(i, j) = dequantize_value(code, p); });
}

std::vector<float> mse_row_clips(ConstMatView w, const QuantSpec& spec) {
  validate(spec, w.rows, w.cols);
  constexpr int kGrid = 100;
  constexpr double kMaxShrink = 0.8, kNorm = 2.4;
  std::vector<float> clips(static_cast<size_t>(w.rows), 1.f);
  for (int64_t i = 0; i < w.rows; ++i) {
    const float* r = w.row(i);
    const auto [mn, mx] = std::minmax_element(r, r + w.cols);
    double best = std::numeric_limits<double>::infinity();
    for (int k = 0; k < static_cast<int>(kMaxShrink * kGrid); ++k) {
      QuantSpec s = spec;
      s.clip = static_cast<float>(1.0 - static_cast<double>(k) / kGrid);
      const GroupParams p = group_params(*mn, *mx, s);
      double err = 0;
      for (int64_t j = 0; j < w.cols; ++j)
        err += std::pow(std::fabs(double(dequantize_value(quantize_value(r[j], p, s), p)) - r[j]), kNorm);
      if (err < best) {
        best = err;
        clips[static_cast<size_t>(i)] = s.clip;
      }
    }
  }
  return clips;
}

}  // namespace duq::quant
