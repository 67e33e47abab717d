// Weight packing for the integer GEMMs, the int64 fallback epilogue, and the one dispatch point that picks
// the ISA path (kernels::active_isa()).
#include "kernels/int_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <vector>

#include "core/threads.h"
#include "kernels/cpu_features.h"
#include "kernels/int_kernels_internal.h"

namespace duq::kernels {

namespace detail {

static int64_t byte_offset(int bits, int64_t k_pad, int64_t n, int64_t k, int* shift) {
  const int64_t panel = n / kPanelRows, lane = n % kPanelRows;
  if (bits == 8) {
    *shift = 0;
    return panel * kPanelRows * k_pad + (k / 4) * 64 + lane * 4 + (k % 4);
  }
  const int64_t r = k % 8;
  *shift = (r & 1) ? 4 : 0;
  return panel * kPanelRows * k_pad / 2 + (k / 8) * 64 + lane * 4 + r / 2;
}

uint8_t weight_code(const uint8_t* data, int bits, int64_t k_pad, int64_t n, int64_t k) {
  int shift;
  const uint8_t b = data[byte_offset(bits, k_pad, n, k, &shift)];
  return bits == 8 ? static_cast<uint8_t>(b ^ 0x80) : static_cast<uint8_t>((b >> shift) & 0xF);
}

void epilogue_wide(const GemmArgs& a, int kind, int64_t m, int64_t n0, int64_t cnt, const int32_t* acc) {
  const int64_t sx = a.xsum[m], zx = a.xz[m];
  const int64_t o = a.wbits == 8 ? 128 : 8;
  const int64_t oa = a.abits == 8 ? 128 : 0;
  for (int64_t i = 0; i < cnt; ++i) {
    const int64_t n = n0 + i;
    const int64_t zw = a.wz[n], sw = a.wsum[n];
    const int64_t corr = sw - a.k * zw;  // Σ_k (q − zw), exact
    int64_t t = acc[i];
    if (kind == 0) t += (o - zw) * sx - zx * corr;
    else t += oa * sw - zw * sx - zx * corr;
    a.y[m * a.ldy + n] = static_cast<float>(t) * (a.xs[m] * a.ws[n]);
  }
}

}  // namespace detail

PackedWeights pack_weights(const uint8_t* codes, int64_t ld, int64_t n, int64_t k, int bits, const float* scale,
                           const int32_t* zero) {
  DUQ_CHECK(bits == 4 || bits == 8, "pack_weights: bits must be 4 or 8, got ", bits);
  DUQ_CHECK(n >= 1 && k >= 1 && k <= kMaxGemmK, "pack_weights: bad shape ", n, "x", k);
  DUQ_CHECK(ld >= k);
  PackedWeights w;
  w.bits = bits;
  w.rows = n;
  w.cols = k;
  w.rows_pad = (n + kPanelRows - 1) / kPanelRows * kPanelRows;
  w.cols_pad = (k + kWeightKAlign - 1) / kWeightKAlign * kWeightKAlign;
  const int64_t panels = w.rows_pad / kPanelRows;
  // code 0 everywhere (int8 stores q − 128, so code 0 is byte 0x80)
  w.data.assign(static_cast<size_t>(panels * w.panel_bytes()), bits == 8 ? 0x80 : 0x00);
  w.scale.assign(static_cast<size_t>(w.rows_pad), 0.f);
  w.zero.assign(static_cast<size_t>(w.rows_pad), 0);
  w.sum.assign(static_cast<size_t>(w.rows_pad), 0);
  w.corr.assign(static_cast<size_t>(w.rows_pad), 0);
  const int qmax = (1 << bits) - 1;
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* src = codes + r * ld;
    const int32_t z = zero[r];
    DUQ_CHECK(z >= -kZeroPointLimit && z <= kZeroPointLimit, "pack_weights: zero point ", z, " out of range");
    int64_t s = 0;
    for (int64_t c = 0; c < k; ++c) {
      const int q = src[c];
      DUQ_CHECK(q <= qmax, "pack_weights: code ", q, " exceeds ", bits, " bits");
      int shift;
      uint8_t& b = w.data[static_cast<size_t>(detail::byte_offset(bits, w.cols_pad, r, c, &shift))];
      if (bits == 8) b = static_cast<uint8_t>(q ^ 0x80);
      else b = static_cast<uint8_t>(b | (q << shift));
      s += q;
    }
    w.scale[r] = scale[r];
    w.zero[r] = z;
    w.sum[r] = static_cast<int32_t>(s);
    w.corr[r] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s - k * static_cast<int64_t>(z))));
    w.max_dev = std::max<int64_t>(
        w.max_dev, std::max<int64_t>(std::abs(static_cast<int64_t>(z)), std::abs(static_cast<int64_t>(qmax) - z)));
  }
  return w;
}

PackedWeights quantize_pack_weights(ConstMatView w, int bits, float clip) {
  DUQ_CHECK(w.rows >= 1 && w.cols >= 1);
  std::vector<uint8_t> codes(static_cast<size_t>(w.rows * w.cols));
  std::vector<float> scale(static_cast<size_t>(w.rows));
  std::vector<int32_t> zero(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r)
    detail::quantize_weight_row(w.row(r), w.cols, bits, clip, codes.data() + r * w.cols, &scale[r], &zero[r]);
  return pack_weights(codes.data(), w.cols, w.rows, w.cols, bits, scale.data(), zero.data());
}

void unpack_weight_codes(const PackedWeights& w, uint8_t* codes) {
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      codes[r * w.cols + c] = detail::weight_code(w.data.data(), w.bits, w.cols_pad, r, c);
}

Mat dequantize_weights(const PackedWeights& w) {
  Mat out(w.rows, w.cols);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      out(r, c) = static_cast<float>(
                      static_cast<int32_t>(detail::weight_code(w.data.data(), w.bits, w.cols_pad, r, c)) - w.zero[r]) *
                  w.scale[r];
  return out;
}

namespace {

constexpr int64_t kSplitPanels = 3;            // weight panels per unit of the N split (the AVX-512 group)
constexpr int64_t kMinParallelMacs = 1 << 22;  // smaller products (< ~50 µs) run on one thread

// One (sub-)product on the calling thread, with its thread-local scratch.
void run_gemm(detail::GemmArgs& a) {
  thread_local AlignedVector<uint8_t> scratch;
  const size_t need = detail::gemm_scratch_bytes(a.k_pad, a.m);
  if (scratch.size() < need) scratch.resize(need);
  a.scratch = scratch.data();
  switch (active_isa()) {
#if DUQ_KERNELS_X86  // the x86/ files are compiled (src/kernels/CMakeLists.txt)
    case Isa::Avx512Vnni: detail::int_gemm_avx512(a); break;
    case Isa::Avx2: detail::int_gemm_avx2(a); break;
#endif
    default: detail::int_gemm_ref(a); break;
  }
}

}  // namespace

void int_gemm(const QuantActs& x, const PackedWeights& w, MatView y) {
  DUQ_CHECK(x.cols == w.cols, "int_gemm: activation K ", x.cols, " != weight K ", w.cols);
  DUQ_CHECK(y.rows == x.rows && y.cols == w.rows, "int_gemm: output shape");
  DUQ_CHECK(x.cols_pad == w.cols_pad, "int_gemm: padded K differs");
  if (x.rows == 0) return;
  detail::GemmArgs a;
  a.xq = x.codes.data();
  a.m = x.rows;
  a.k = x.cols;
  a.k_pad = x.cols_pad;
  a.abits = x.bits;
  a.xs = x.scale.data();
  a.xz = x.zero.data();
  a.xsum = x.sum.data();
  a.wq = w.data.data();
  a.wbits = w.bits;
  a.n = w.rows;
  a.n_pad = w.rows_pad;
  a.ws = w.scale.data();
  a.wz = w.zero.data();
  a.wsum = w.sum.data();
  a.wcorr = w.corr.data();
  a.y = y.data;
  a.ldy = y.ld;
  const int64_t qmax = (int64_t{1} << x.bits) - 1;
  int64_t xdev = 0;
  for (int64_t m = 0; m < x.rows; ++m)
    xdev = std::max(xdev, std::max(std::abs(static_cast<int64_t>(x.zero[m])), std::abs(qmax - x.zero[m])));
  a.wide = x.cols * xdev * w.max_dev > std::numeric_limits<int32_t>::max();
  // Threads: a static grid of nt weight-row ranges (whole groups of kSplitPanels panels) × mt activation-row
  // ranges (whole 8-row tiles); each sub-product is an independent call on offset pointers with its own
  // thread-local scratch. Every y[m, n] is the same exact integer T and the same epilogue whichever call
  // computes it, so the result is bit-identical for any thread count. Tiny products stay serial (a fork
  // costs a few µs).
  const int64_t panels = w.rows_pad / kPanelRows;
  const int64_t groups = (panels + kSplitPanels - 1) / kSplitPanels, tiles = (x.rows + 7) / 8;
  const int64_t T = x.rows * w.rows * x.cols < kMinParallelMacs ? 1 : num_threads();
  const int64_t nt = std::min(T, groups), mt = std::min(tiles, (T + nt - 1) / nt);
  if (nt * mt == 1) {
    run_gemm(a);
    return;
  }
  parallel_for(nt * mt, [&](int64_t item) {
    const int64_t in = item % nt, im = item / nt;
    const int64_t p0 = std::min(panels, groups * in / nt * kSplitPanels);
    const int64_t p1 = std::min(panels, groups * (in + 1) / nt * kSplitPanels);
    const int64_t m0 = std::min(x.rows, tiles * im / mt * 8), m1 = std::min(x.rows, tiles * (im + 1) / mt * 8);
    if (p0 >= p1 || m0 >= m1) return;
    detail::GemmArgs b = a;
    const int64_t r0 = p0 * kPanelRows;
    b.wq += p0 * w.panel_bytes();
    b.n = std::min(w.rows, p1 * kPanelRows) - r0;
    b.n_pad = (p1 - p0) * kPanelRows;
    b.ws += r0, b.wz += r0, b.wsum += r0, b.wcorr += r0;
    b.xq += m0 * x.cols_pad;
    b.m = m1 - m0;
    b.xs += m0, b.xz += m0, b.xsum += m0;
    b.y += m0 * y.ld + r0;
    run_gemm(b);
  });
}

void int_gemm_wide(const QuantActs& x, const PackedWeights& w, const QuantActs& xw, const PackedWeights& ww, MatView y,
                   Mat& scratch) {
  DUQ_CHECK(xw.rows == x.rows && ww.rows == w.rows && xw.cols == ww.cols, "int_gemm_wide: shapes");
  int_gemm(x, w, y);
  scratch.resize(y.rows, y.cols);
  int_gemm(xw, ww, scratch);
  for (int64_t m = 0; m < y.rows; ++m) {
    float* dst = y.row(m);
    const float* add = scratch.row(m);
    for (int64_t n = 0; n < y.cols; ++n) dst[n] += add[n];
  }
}

}  // namespace duq::kernels
