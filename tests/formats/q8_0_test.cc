// Storage of the float tables of the quantized model file: f32 → f16 (round to nearest even) on the values
// that matter, ggml's Q8_0 block codec on blocks with known codes, and Q8_0 tensors in the GGUF container
// (size per block, the row length rule, in the writer and the parser).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "expect_error.h"
#include "formats/dtype.h"
#include "formats/gguf.h"
#include "formats/q8_0.h"
#include "test_support.h"

using namespace duq::formats;
namespace fs = std::filesystem;

namespace {

TEST(F16, KnownValuesRoundTrip) {
  struct Case {
    float x;
    uint16_t h;
    float back;
  };
  const Case cases[] = {
      {1.0f, 0x3C00, 1.0f},
      {-2.0f, 0xC000, -2.0f},
      {65504.0f, 0x7BFF, 65504.0f},                                          // largest finite half
      {std::ldexp(1.0f, -14), 0x0400, std::ldexp(1.0f, -14)},                // smallest normal
      {std::ldexp(1.0f, -24), 0x0001, std::ldexp(1.0f, -24)},                // smallest subnormal
      {std::ldexp(1023.0f, -24), 0x03FF, std::ldexp(1023.0f, -24)},          // largest subnormal
      {std::ldexp(1.0f, -25), 0x0000, 0.0f},                                 // tie between 0 and 2^-24 → even (0)
      {std::ldexp(3.0f, -25), 0x0002, std::ldexp(2.0f, -24)},                // tie between 1 and 2 ulps → even (2)
      {1.0f + std::ldexp(1.0f, -11), 0x3C00, 1.0f},                          // tie between 1 and 1+2^-10 → even
      {1.0f + std::ldexp(3.0f, -11), 0x3C02, 1.0f + std::ldexp(2.0f, -10)},  // tie → even mantissa 2
      {1.0f + std::ldexp(1.0f, -10), 0x3C01, 1.0f + std::ldexp(1.0f, -10)},  // exact
  };
  for (const Case& c : cases) {
    EXPECT_EQ(f32_to_f16(c.x), c.h) << c.x;
    EXPECT_EQ(f16_to_f32(c.h), c.back) << c.x;
  }
}

// Decoded values of one block.
std::vector<float> decode(const std::vector<uint8_t>& b, size_t n) {
  std::vector<float> y(n);
  q8_0_decode(b.data(), n, y.data());
  return y;
}

TEST(Q8_0, KnownBlocks) {
  // Block 0: max |x| = 127 → d = 1 exactly, q = x rounded to nearest even.
  // Block 1: max |x| = 63.5 → d = 0.5, q = round(2x).
  // Block 2: all zero → d = 0, q = 0.
  std::vector<float> x(96, 0.f);
  const float b0[8] = {-127.f, 127.f, 0.5f, 1.5f, 2.5f, -0.5f, 3.4f, -3.6f};
  const int q0[8] = {-127, 127, 0, 2, 2, 0, 3, -4};
  for (int i = 0; i < 8; ++i) x[static_cast<size_t>(i)] = b0[i];
  x[32] = 63.5f, x[33] = -1.3f, x[34] = 0.2f;
  std::vector<uint8_t> b(3 * kQ8_0BlockBytes);
  q8_0_encode(x.data(), x.size(), b.data(), "test");
  auto d_of = [&](int blk) {
    uint16_t h;
    std::memcpy(&h, b.data() + blk * kQ8_0BlockBytes, 2);
    return h;
  };
  auto q_of = [&](int blk, int i) { return static_cast<int>(static_cast<int8_t>(b[blk * kQ8_0BlockBytes + 2 + i])); };
  EXPECT_EQ(d_of(0), 0x3C00);  // 1.0
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q_of(0, i), q0[i]) << i;
  for (int i = 8; i < 32; ++i) EXPECT_EQ(q_of(0, i), 0);
  EXPECT_EQ(d_of(1), 0x3800);  // 0.5
  EXPECT_EQ(q_of(1, 0), 127);
  EXPECT_EQ(q_of(1, 1), -3);  // −2.6 → −3
  EXPECT_EQ(q_of(1, 2), 0);   // 0.4 → 0
  EXPECT_EQ(d_of(2), 0x0000);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q_of(2, i), 0);
  const auto y = decode(b, x.size());
  EXPECT_EQ(y[3], 2.f);
  EXPECT_EQ(y[6], 3.f);
  EXPECT_EQ(y[33], -1.5f);
  EXPECT_EQ(y[32], 63.5f);
  for (int i = 64; i < 96; ++i) EXPECT_EQ(y[static_cast<size_t>(i)], 0.f);
}

TEST(Q8_0, CodesUseTheF16RoundedScaleAndErrorIsHalfAStep) {
  duq::Rng rng(3);
  std::vector<float> x(32 * 64);
  for (float& v : x) v = static_cast<float>(0.7 * rng.normal());
  std::vector<uint8_t> b(64 * kQ8_0BlockBytes);
  q8_0_encode(x.data(), x.size(), b.data(), "test");
  const auto y = decode(b, x.size());
  for (size_t blk = 0; blk < 64; ++blk) {
    uint16_t h;
    std::memcpy(&h, b.data() + blk * kQ8_0BlockBytes, 2);
    const float d = f16_to_f32(h);
    float amax = 0.f;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[blk * 32 + i]));
    EXPECT_EQ(h, f32_to_f16(amax / 127.f));
    for (size_t i = 0; i < 32; ++i) {
      const size_t k = blk * 32 + i;
      // The code is the nearest integer to x / d with the stored d, so decoding is within half a step.
      EXPECT_LE(std::fabs(y[k] - x[k]), 0.5f * d * (1 + 1e-6f)) << k;
    }
  }
}

TEST(Q8_0, RejectsWhatItCannotStore) {
  std::vector<float> x(32, 1.f);
  std::vector<uint8_t> b(kQ8_0BlockBytes);
  x[5] = 1e7f;  // scale 78740 > 65504
  EXPECT_ERROR_HAS(q8_0_encode(x.data(), 32, b.data(), "tensor big"), "tensor big: block 0 has max |x|");
  x[5] = NAN;
  EXPECT_ERROR_HAS(q8_0_encode(x.data(), 32, b.data(), "tensor nan"), "tensor nan: value 5 is not finite");
}

TEST(Q8_0, GgufTensorSizesAndRowRule) {
  EXPECT_EQ(ggml_block_size(GgmlType::Q8_0), 32u);
  EXPECT_EQ(ggml_type_size(GgmlType::Q8_0), 34u);
  EXPECT_EQ(ggml_nbytes(GgmlType::Q8_0, 64 * 3), 6u * 34);
  std::vector<float> x(64 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 90.f;
  std::vector<uint8_t> q(6 * kQ8_0BlockBytes);
  q8_0_encode(x.data(), x.size(), q.data(), "t");
  GgufWriter w;
  w.add_tensor("q", GgmlType::Q8_0, {64, 3}, q);
  EXPECT_ERROR_HAS(w.add_tensor("r", GgmlType::Q8_0, {48, 4}, std::span<const uint8_t>(q.data(), 6 * 34)),
                   "Q8_0 rows of 48 values are not a multiple of its block size 32");
  EXPECT_ERROR_HAS(w.add_tensor("s", GgmlType::Q8_0, {64, 3}, std::span<const uint8_t>(q.data(), 100)),
                   "need 204 bytes, got 100");
  const fs::path dir = duq::test::temp_dir("q8_0_gguf");
  w.write(dir / "q.gguf");
  GgufFile f = GgufFile::open(dir / "q.gguf");
  const GgufTensor& t = f.tensor("q", GgmlType::Q8_0, std::vector<uint64_t>{64, 3});
  EXPECT_EQ(t.nbytes, 204u);
  EXPECT_EQ(0, std::memcmp(t.data, q.data(), q.size()));

  // The parser applies the same rule: patch the tensor's row length to 48 (and its count to keep the size).
  std::string bytes = duq::test::read_text(dir / "q.gguf");
  const std::string info = std::string("\x01\0\0\0\0\0\0\0q\x02\0\0\0", 13);  // name "q", n_dims 2
  const size_t at = bytes.find(info);
  ASSERT_NE(at, std::string::npos);
  const uint64_t dims[2] = {48, 4};
  std::memcpy(bytes.data() + at + info.size(), dims, sizeof dims);
  duq::test::write_bytes(dir / "rows.gguf", bytes);
  EXPECT_ERROR_HAS(GgufFile::open(dir / "rows.gguf"), "Q8_0 rows of 48 values are not a multiple of its block size 32");
}

}  // namespace
