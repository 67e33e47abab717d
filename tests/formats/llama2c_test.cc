// llama2.c checkpoint and tokenizer.bin parsing: layouts on synthetic files, and one clear error per
// kind of malformed file.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "formats/llama2c_checkpoint.h"
#include "formats/llama2c_tokenizer_file.h"
#include "test_support.h"

namespace duq::formats {
namespace {

std::string le32(int32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string f32(float v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

// dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 16, seq 4 → exact float count of the legacy layout.
uint64_t legacy_floats(bool shared) {
  const uint64_t D = 8, H = 12, L = 2, V = 16, S = 4, hd = 4, K = 4;
  return V * D + L * D + L * D * D + 2 * L * K * D + L * D * D + L * D + 3 * L * H * D + D + 2 * S * hd / 2 +
         (shared ? 0 : V * D);
}

std::string legacy_file(bool shared, int64_t float_delta = 0) {
  std::string s = le32(8) + le32(12) + le32(2) + le32(2) + le32(1) + le32(shared ? 16 : -16) + le32(4);
  const int64_t n = static_cast<int64_t>(legacy_floats(shared)) + float_delta;
  for (int64_t i = 0; i < n; ++i) s += f32(static_cast<float>(i));
  return s;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no duq::Error thrown";
  return "";
}

TEST(Llama2cCheckpoint, LegacyLayoutOffsets) {
  auto dir = test::temp_dir("llama2c_layout");
  test::write_bytes(dir / "m.bin", legacy_file(false));
  Llama2cCheckpoint c((dir / "m.bin").string());
  EXPECT_EQ(c.header().dim, 8);
  EXPECT_EQ(c.header().n_kv_heads, 1);
  EXPECT_FALSE(c.header().shared_classifier);
  // Values are their own float index, so each array's first value is its offset.
  EXPECT_EQ(*c.floats(c.layout().tok_embeddings), 0.f);
  EXPECT_EQ(*c.floats(c.layout().rms_att), 16.f * 8);
  EXPECT_EQ(c.layout().wq, 16u * 8 + 2 * 8);
  EXPECT_EQ(c.layout().wcls, legacy_floats(false) - 16 * 8);
}

TEST(Llama2cCheckpoint, SharedClassifierPointsAtEmbedding) {
  auto dir = test::temp_dir("llama2c_shared");
  test::write_bytes(dir / "m.bin", legacy_file(true));
  Llama2cCheckpoint c((dir / "m.bin").string());
  EXPECT_EQ(c.layout().wcls, c.layout().tok_embeddings);
}

TEST(Llama2cCheckpoint, Version1Header) {
  auto dir = test::temp_dir("llama2c_v1");
  std::string h = le32(0x616b3432) + le32(1) + le32(8) + le32(12) + le32(2) + le32(2) + le32(1) + le32(16) + le32(4);
  h += std::string(1, '\1');
  h.resize(256, '\0');
  const uint64_t n = legacy_floats(true) - 2 * 4 * 4 / 2;  // no freq_cis tables in version 1
  for (uint64_t i = 0; i < n; ++i) h += f32(static_cast<float>(i));
  test::write_bytes(dir / "v1.bin", h);
  Llama2cCheckpoint c((dir / "v1.bin").string());
  EXPECT_EQ(c.header().version, 1);
  EXPECT_EQ(c.layout().rms_att, 0u);  // norms come first in version 1
  EXPECT_EQ(c.layout().tok_embeddings, 2u * 8 * 2 + 8);
}

TEST(Llama2cCheckpointErrors, TruncatedWeightsNameFileAndSizes) {
  auto dir = test::temp_dir("llama2c_trunc");
  test::write_bytes(dir / "t.bin", legacy_file(true, -10));
  auto msg = expect_error([&] { Llama2cCheckpoint c((dir / "t.bin").string()); });
  EXPECT_NE(msg.find("t.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Llama2cCheckpointErrors, ShortHeader) {
  auto dir = test::temp_dir("llama2c_short");
  test::write_bytes(dir / "s.bin", le32(8) + le32(12));
  auto msg = expect_error([&] { Llama2cCheckpoint c((dir / "s.bin").string()); });
  EXPECT_NE(msg.find("s.bin"), std::string::npos);
  EXPECT_NE(msg.find("header"), std::string::npos);
}

TEST(Llama2cCheckpointErrors, AbsurdHeaderValuesBeforeAnyAllocation) {
  auto dir = test::temp_dir("llama2c_absurd");
  // dim = 2^30: rejected from the header alone.
  test::write_bytes(dir / "a.bin", le32(1 << 30) + le32(12) + le32(2) + le32(2) + le32(1) + le32(16) + le32(4));
  auto msg = expect_error([&] { Llama2cCheckpoint c((dir / "a.bin").string()); });
  EXPECT_NE(msg.find("dim"), std::string::npos) << msg;
  // heads not dividing dim
  test::write_bytes(dir / "b.bin", le32(8) + le32(12) + le32(2) + le32(3) + le32(1) + le32(16) + le32(4));
  msg = expect_error([&] { Llama2cCheckpoint c((dir / "b.bin").string()); });
  EXPECT_NE(msg.find("n_heads"), std::string::npos) << msg;
}

TEST(Llama2cCheckpointErrors, TrailingBytes) {
  auto dir = test::temp_dir("llama2c_trailing");
  test::write_bytes(dir / "x.bin", legacy_file(true, 3));
  auto msg = expect_error([&] { Llama2cCheckpoint c((dir / "x.bin").string()); });
  EXPECT_NE(msg.find("trailing"), std::string::npos) << msg;
}

TEST(Llama2cCheckpointErrors, MissingFile) {
  auto msg = expect_error([&] { Llama2cCheckpoint c("/nonexistent/model.bin"); });
  EXPECT_NE(msg.find("/nonexistent/model.bin"), std::string::npos);
}

std::string tokenizer_bytes() {
  std::string s = le32(5);
  for (const char* p : {"<unk>", "a", "bc", "hello"}) s += f32(-1.f) + le32(static_cast<int32_t>(std::strlen(p))) + p;
  return s;
}

TEST(Llama2cTokenizerFile, ReadsEntriesUntilEnd) {
  auto dir = test::temp_dir("tok_ok");
  test::write_bytes(dir / "t.bin", tokenizer_bytes());
  auto v = read_llama2c_tokenizer((dir / "t.bin").string());
  EXPECT_EQ(v.max_token_length, 5);
  EXPECT_EQ(v.pieces, (std::vector<std::string>{"<unk>", "a", "bc", "hello"}));
}

TEST(Llama2cTokenizerFileErrors, TruncatedEntryNamesFileAndToken) {
  auto dir = test::temp_dir("tok_trunc");
  std::string b = tokenizer_bytes();
  for (size_t cut : {b.size() - 2, b.size() - 7}) {  // inside the last piece's bytes / inside its header
    test::write_bytes(dir / "t.bin", b.substr(0, cut));
    auto msg = expect_error([&] { read_llama2c_tokenizer((dir / "t.bin").string()); });
    EXPECT_NE(msg.find("t.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("token 3"), std::string::npos) << msg;
  }
}

TEST(Llama2cTokenizerFileErrors, ImpossibleLength) {
  auto dir = test::temp_dir("tok_len");
  test::write_bytes(dir / "t.bin", le32(5) + f32(0) + le32(1000) + "x");
  auto msg = expect_error([&] { read_llama2c_tokenizer((dir / "t.bin").string()); });
  EXPECT_NE(msg.find("length 1000"), std::string::npos) << msg;
}

}  // namespace
}  // namespace duq::formats
