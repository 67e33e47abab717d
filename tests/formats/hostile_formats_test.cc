// Hostile inputs to the file parsers: headers claiming absurd sizes fail at once with an error naming
// the field (nothing is allocated from a header value), and every input the fuzzers in fuzz/ crashed on
// is pinned here with its bytes inline, next to the fix it needed.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "formats/json_file.h"
#include "formats/llama2c_checkpoint.h"
#include "formats/safetensors.h"
#include "test_support.h"

namespace duq::formats {
namespace {

namespace fs = std::filesystem;

std::string le32(int32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string le64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string st_bytes(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

// Runs f, which must throw duq::Error within `max_seconds` (no large allocation or scan behind it);
// returns the message.
std::string fast_error(const std::function<void()>& f, double max_seconds = 1.0) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string msg;
  try {
    f();
    ADD_FAILURE() << "no duq::Error thrown";
  } catch (const Error& e) {
    msg = e.what();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, max_seconds) << "took " << s << " s: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
  return msg;
}

#define EXPECT_HAS(msg, part) \
  EXPECT_NE((msg).find(part), std::string::npos) << "expected '" << (part) << "' in: " << (msg)

// --- absurd sizes -------------------------------------------------------------------------------------

TEST(HostileSafetensors, ShapeOf2To40ElementsFailsFastNamingTensorAndShape) {
  for (const char* dtype : {"F32", "BF16", "I8"}) {
    const std::string h =
        std::string(R"({"big":{"dtype":")") + dtype + R"(","shape":[1048576,1048576],"data_offsets":[0,8]}})";
    const std::string b = st_bytes(h, 8);
    const std::string msg =
        fast_error([&] { parse_safetensors(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "big.safetensors"); });
    EXPECT_HAS(msg, "big.safetensors");
    EXPECT_HAS(msg, "tensor 'big'");
    EXPECT_HAS(msg, "[1048576,1048576]");
  }
}

TEST(HostileSafetensors, HeaderLengthOfAnExabyteFailsFast) {
  const std::string b = le64(1ull << 60) + "{}";
  const std::string msg =
      fast_error([&] { parse_safetensors(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "x.safetensors"); });
  EXPECT_HAS(msg, "header length");
}

// Each header field alone set to INT_MAX: the error names that field.
TEST(HostileLlama2c, EachHugeHeaderFieldIsNamed) {
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  const int32_t ok[7] = {8, 12, 2, 2, 1, 16, 4};
  const fs::path dir = test::temp_dir("hostile_llama2c_fields");
  for (int f = 0; f < 7; ++f) {
    std::string bytes;
    for (int i = 0; i < 7; ++i) bytes += le32(i == f ? INT32_MAX : ok[i]);
    const fs::path p = dir / (std::string(names[f]) + ".bin");
    test::write_bytes(p, bytes + std::string(4096, '\0'));
    const std::string msg = fast_error([&] { Llama2cCheckpoint c(p.string()); });
    EXPECT_HAS(msg, p.string());
    EXPECT_HAS(msg, std::string("field ") + names[f] + " = 2147483647");
  }
}

// Every field within its own limit, but together they describe ~10^15 floats: the file-size check
// (against the mapping, not an allocation) reports the bytes the header implies.
TEST(HostileLlama2c, HugeButInRangeDimsReportTheImpliedSize) {
  const fs::path p = test::temp_dir("hostile_llama2c_product") / "huge.bin";
  test::write_bytes(p, le32(1 << 17) + le32(1 << 19) + le32(4096) + le32(64) + le32(64) + le32(1 << 22) +
                           le32(1 << 22) + std::string(64, '\0'));
  const std::string msg = fast_error([&] { Llama2cCheckpoint c(p.string()); });
  EXPECT_HAS(msg, "truncated llama2.c checkpoint");
  EXPECT_HAS(msg, "4096 layers, dim 131072");
}

TEST(HostileLlama2c, Version1HeaderWithHugeDims) {
  std::string b = le32(0x616b3432) + le32(1) + le32(1 << 17) + le32(1 << 19) + le32(4096) + le32(1 << 12) +
                  le32(1 << 12) + le32(1 << 22) + le32(1 << 22);
  b.resize(256, '\0');
  const fs::path p = test::temp_dir("hostile_llama2c_v1") / "v1.bin";
  test::write_bytes(p, b);
  EXPECT_HAS(fast_error([&] { Llama2cCheckpoint c(p.string()); }), "truncated llama2.c checkpoint");
}

// --- fuzzer findings ----------------------------------------------------------------------------------

// fuzz_safetensors (from its seed corpus): an empty tensor [0, 4] has no storage, so to_f32 handed
// convert_to_f32 a null destination and memcpy(null, src, 0) is undefined behaviour (UBSan: "null
// pointer passed as argument 1"). Fixed in dtype.cc: zero elements return before touching a pointer.
TEST(HostileSafetensors, FuzzEmptyTensorConvertsToAnEmptyMatrix) {
  const fs::path p = test::temp_dir("hostile_st_empty") / "empty.safetensors";
  // The 64 bytes of the crash input: header length 56 ('8'), then the header, no data section.
  test::write_bytes(p,
                    std::string("8\0\0\0\0\0\0\0", 8) + R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})");
  const TensorStore s = TensorStore::open(p);
  const Mat m = s.to_f32("e");
  EXPECT_EQ(m.rows(), 0);
  EXPECT_EQ(m.cols(), 4);
}

// fuzz_hf_config: a number too large for a double ("...e5555555577777777777777") makes nlohmann throw
// out_of_range (406), not parse_error, so it escaped parse_json's catch and a config.json holding 1e400
// aborted the CLI with an uncaught exception. Fixed in json_file.cc: any nlohmann exception is an
// "invalid JSON" duq::Error naming the source. (The 82-byte crash input, verbatim.)
TEST(HostileJson, FuzzNumberOverflowIsAnInvalidJsonError) {
  const std::string crash = "5555555555555555555555555555555555555555555e5555555577777777777777]]]]]]]]]]]4555e";
  std::string msg;
  try {
    parse_json(crash, "fuzz/config.json");
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_HAS(msg, "fuzz/config.json: invalid JSON");
  EXPECT_HAS(msg, "number overflow");
  EXPECT_THROW(parse_json(R"({"rope_theta": 1e400})", "c.json"), Error);
}

// Same class in the safetensors header parser (its own nlohmann::json::parse call): a shape of 1e400.
TEST(HostileSafetensors, NumberOverflowInHeaderIsInvalidJson) {
  const std::string b = st_bytes(R"({"t":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4);
  const std::string msg =
      fast_error([&] { parse_safetensors(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "ovf.safetensors"); });
  EXPECT_HAS(msg, "ovf.safetensors: header is not valid JSON");
}

// fuzz_llama2c_checkpoint: legacy header with vocab_size = INT32_MIN (negative means "separate
// classifier", so the reader negated it: signed overflow, UBSan "negation of -2147483648"). Fixed in
// llama2c_checkpoint.cc: INT32_MIN is out of range before it is negated. (The 76-byte crash input.)
TEST(HostileLlama2c, FuzzVocabSizeInt32MinIsOutOfRange) {
  const char crash[] =
      "\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x02\x00"
      "\xff\xf5\x01\x00";
  const fs::path p = test::temp_dir("hostile_llama2c_intmin") / "crash.bin";
  test::write_bytes(p, std::string(crash, sizeof crash - 1));
  const std::string msg = fast_error([&] { Llama2cCheckpoint c(p.string()); });
  EXPECT_HAS(msg, "vocab_size = -2147483648 is out of range");
}

}  // namespace
}  // namespace duq::formats
