// Integer GEMM: every ISA path bit-identical to the scalar reference (tails, all bit combinations, the
// int64 fallback, extreme K), the packed layout and its round trip, and the dequantized product against
// a double-precision GEMM on the dequantized operands.
#include "kernels/int_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernel_test_util.h"

namespace duq::kernels {
namespace {

using test::available_isas;
using test::IsaScope;
using test::random_mat;

Mat run_gemm(const QuantActs& x, const PackedWeights& w, Isa isa) {
  IsaScope scope(isa);
  Mat y(x.rows, w.rows);
  int_gemm(x, w, y);
  return y;
}

void expect_bit_equal(const Mat& a, const Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (int64_t i = 0; i < a.rows(); ++i)
    for (int64_t j = 0; j < a.cols(); ++j)
      ASSERT_EQ(std::memcmp(a.row(i) + j, b.row(i) + j, sizeof(float)), 0)
          << what << " at (" << i << "," << j << "): " << a(i, j) << " vs " << b(i, j);
}

struct Bits {
  int w, a;
};
constexpr Bits kBitCombos[] = {{4, 4}, {4, 8}, {8, 8}, {8, 4}};

TEST(IntGemm, AllIsaPathsBitIdenticalToReference) {
  Rng rng(1);
  for (const Bits bits : kBitCombos)
    for (int64_t m : {1, 2, 3, 8, 9, 12, 15, 16, 17, 64})
      for (int64_t n : {1, 5, 33, 100})
        for (int64_t k : {1, 7, 63, 130, 300}) {
          const Mat xf = random_mat(rng, m, k);
          const Mat wf = random_mat(rng, n, k, 0.05f);
          QuantActs x;
          quantize_acts(xf, bits.a, 0.9f, x);
          const PackedWeights w = quantize_pack_weights(wf, bits.w, 0.8f);
          const Mat ref = run_gemm(x, w, Isa::Scalar);
          for (Isa isa : available_isas()) {
            if (isa == Isa::Scalar) continue;
            expect_bit_equal(run_gemm(x, w, isa), ref,
                             std::string(isa_name(isa)) + " W" + std::to_string(bits.w) + "A" + std::to_string(bits.a) +
                                 " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
            if (HasFatalFailure()) return;
          }
        }
}

// Dequantized product vs a double-accumulated GEMM on the dequantized float operands: the kernel result is
// the exact product rounded three times, the reference rounds each operand once, so they agree to ~1e-7.
TEST(IntGemm, MatchesDoubleGemmOnDequantizedOperands) {
  Rng rng(2);
  for (const Bits bits : kBitCombos)
    for (int64_t m : {1, 17}) {
      const int64_t n = 33, k = 300;
      const Mat xf = random_mat(rng, m, k);
      const Mat wf = random_mat(rng, n, k, 0.05f);
      QuantActs x;
      quantize_acts(xf, bits.a, 0.9f, x);
      const PackedWeights w = quantize_pack_weights(wf, bits.w, 0.8f);
      const Mat xd = dequantize_acts(x), wd = dequantize_weights(w);
      for (Isa isa : available_isas()) {
        const Mat y = run_gemm(x, w, isa);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double ref = 0, mag = 0;
            for (int64_t t = 0; t < k; ++t) {
              ref += static_cast<double>(xd(i, t)) * wd(j, t);
              mag += std::abs(static_cast<double>(xd(i, t)) * wd(j, t));
            }
            ASSERT_NEAR(y(i, j), ref, 1e-5 * std::abs(ref) + 1e-6 * mag)
                << isa_name(isa) << " (" << i << "," << j << ")";
          }
      }
    }
}

// Zero points far outside the code range: |T| can exceed int32, the kernels must switch to int64.
TEST(IntGemm, WideZeroPointsTakeTheInt64Path) {
  Rng rng(3);
  for (const Bits bits : kBitCombos) {
    const int64_t m = 9, n = 20, k = 3000;
    // activations all near +1000: Δ tiny, z ≈ −10^5·…, clamped at ±2^22
    Mat xf = random_mat(rng, m, k, 0.01f, false);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) xf(i, j) += 1000.f;
    QuantActs x;
    quantize_acts(xf, bits.a, 1.f, x);
    ASSERT_LT(x.zero[0], -100000);
    std::vector<uint8_t> codes(static_cast<size_t>(n * k));
    std::vector<float> scale(n);
    std::vector<int32_t> zero(n);
    const int qmax = (1 << bits.w) - 1;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c) codes[r * k + c] = static_cast<uint8_t>(rng.below(qmax + 1));
      scale[r] = 1e-3f * static_cast<float>(1 + r);
      zero[r] = static_cast<int32_t>(rng.below(40000)) - 20000;
    }
    const PackedWeights w = pack_weights(codes.data(), k, n, k, bits.w, scale.data(), zero.data());
    const Mat ref = run_gemm(x, w, Isa::Scalar);
    for (Isa isa : available_isas()) expect_bit_equal(run_gemm(x, w, isa), ref, isa_name(isa));
    // and the reference itself is the exact product: check one entry in int64
    int64_t t = 0;
    for (int64_t c = 0; c < k; ++c)
      t += (static_cast<int64_t>(x.row(0)[c]) - x.zero[0]) * (static_cast<int64_t>(codes[c]) - zero[0]);
    EXPECT_EQ(ref(0, 0), static_cast<float>(t) * (x.scale[0] * scale[0]));
  }
}

// Extreme codes at the largest K: the int32 dot products must not overflow, nor the AVX2 kernel's int16
// partial sums (each as large as the pair bound allows: codes 0 give q − o = −8 / −128 against the largest
// activation code). m = 1 takes the GEMV, m = 3 and 5 the GEMM's micro-tiles.
TEST(IntGemm, ExtremeCodesAtMaxKDoNotOverflow) {
  for (int abits : {8, 4})
    for (int64_t k : {int64_t{16384}, kMaxGemmK})
      for (int64_t m : {1, 3, 5}) {
        const int64_t n = 17;
        const int amax = (1 << abits) - 1;
        QuantActs x;
        x.bits = abits;
        x.rows = m;
        x.cols = k;
        x.cols_pad = k;
        x.codes.assign(static_cast<size_t>(m * k), static_cast<uint8_t>(amax));
        x.scale.assign(m, 1.f);
        x.zero = {0, amax, (amax + 1) / 2, 0, amax};
        x.zero.resize(static_cast<size_t>(m));
        x.sum.assign(m, static_cast<int32_t>(amax * k));
        for (int wbits : {8, 4}) {
          std::vector<uint8_t> codes(static_cast<size_t>(n * k), 0);
          for (int64_t c = 0; c < k; ++c) codes[static_cast<size_t>(k + c)] = static_cast<uint8_t>((1 << wbits) - 1);
          std::vector<float> scale(n, 1.f);
          std::vector<int32_t> zero(n, 0);
          zero[2] = (1 << wbits) - 1;
          const PackedWeights w = pack_weights(codes.data(), k, n, k, wbits, scale.data(), zero.data());
          const Mat ref = run_gemm(x, w, Isa::Scalar);
          EXPECT_EQ(ref(0, 0), 0.f);
          EXPECT_EQ(ref(0, 1), static_cast<float>(int64_t{amax} * ((1 << wbits) - 1) * k));
          EXPECT_EQ(ref(0, 2), static_cast<float>(-int64_t{amax} * ((1 << wbits) - 1) * k));
          for (Isa isa : available_isas())
            expect_bit_equal(run_gemm(x, w, isa), ref,
                             std::string(isa_name(isa)) + " W" + std::to_string(wbits) + "A" + std::to_string(abits) +
                                 " m=" + std::to_string(m) + " k=" + std::to_string(k));
        }
      }
}

TEST(PackWeights, RoundTripAndDocumentedLayout) {
  Rng rng(4);
  for (int bits : {4, 8})
    for (int64_t n : {1, 5, 33})
      for (int64_t k : {1, 7, 130}) {
        std::vector<uint8_t> codes(static_cast<size_t>(n * k));
        for (auto& c : codes) c = static_cast<uint8_t>(rng.below(1u << bits));
        std::vector<float> scale(n, 0.5f);
        std::vector<int32_t> zero(n, 3);
        const PackedWeights w = pack_weights(codes.data(), k, n, k, bits, scale.data(), zero.data());
        EXPECT_EQ(w.rows_pad % 16, 0);
        EXPECT_EQ(w.cols_pad % 64, 0);
        std::vector<uint8_t> back(codes.size());
        unpack_weight_codes(w, back.data());
        EXPECT_EQ(back, codes) << "bits " << bits << " n " << n << " k " << k;
        for (int64_t r = 0; r < n; ++r) {
          int32_t s = 0;
          for (int64_t c = 0; c < k; ++c) s += codes[r * k + c];
          EXPECT_EQ(w.sum[r], s);
        }
      }
  // int4: byte t of row n in octet j holds columns 8j+2t (low nibble) and 8j+2t+1 (high nibble);
  // rows of a 16-row panel are 4 bytes apart, octets 64 bytes apart.
  std::vector<uint8_t> codes(2 * 16, 0);
  codes[0] = 3;        // (0, 0)
  codes[1] = 5;        // (0, 1)
  codes[16 + 2] = 9;   // (1, 2)
  codes[16 + 9] = 12;  // (1, 9) → octet 1, t = 0, high nibble
  const float scale[2] = {1, 1};
  const int32_t zero[2] = {8, 8};
  const PackedWeights w4 = pack_weights(codes.data(), 16, 2, 16, 4, scale, zero);
  EXPECT_EQ(w4.data[0], 0x53);
  EXPECT_EQ(w4.data[4 + 1], 0x09);
  EXPECT_EQ(w4.data[64 + 4], 0xC0);
  // int8: q − 128 as int8, [quad][16 rows][4]
  const PackedWeights w8 = pack_weights(codes.data(), 16, 2, 16, 8, scale, zero);
  EXPECT_EQ(w8.data[0], 0x83);               // 3 − 128
  EXPECT_EQ(w8.data[4 + 2], 0x89);           // row 1, column 2
  EXPECT_EQ(w8.data[2 * 64 + 4 + 1], 0x8C);  // row 1, column 9 (quad 2, t = 1)
  EXPECT_EQ(w8.data[2 * 4], 0x80);           // padding row 2: code 0
}

TEST(PackWeights, DequantizeMatchesQuantizerDefinition) {
  Rng rng(5);
  const Mat wf = random_mat(rng, 7, 40, 0.1f);
  for (int bits : {4, 8}) {
    const PackedWeights w = quantize_pack_weights(wf, bits, 1.f);
    const Mat wd = dequantize_weights(w);
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t c = 0; c < 40; ++c) EXPECT_LE(std::abs(wd(r, c) - wf(r, c)), 0.5f * w.scale[r] * 1.0001f);
  }
}

}  // namespace
}  // namespace duq::kernels
