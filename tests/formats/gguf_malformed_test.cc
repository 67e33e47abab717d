// One test per kind of malformed GGUF input, each crafting the bytes by hand (not with our writer) and
// checking that the error names the file and says what is wrong; then a random-corruption loop.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/rng.h"
#include "formats/gguf.h"
#include "test_support.h"

using namespace duq::formats;
namespace fs = std::filesystem;

namespace {

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::string s;
  template <class T>
  Bytes& pod(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& u8(uint8_t v) { return pod(v); }
  Bytes& u32(uint32_t v) { return pod(v); }
  Bytes& u64(uint64_t v) { return pod(v); }
  Bytes& str(const std::string& v) {
    u64(v.size());
    s += v;
    return *this;
  }
  Bytes& raw(const std::string& v) {
    s += v;
    return *this;
  }
  Bytes& pad_to(size_t a) {
    s.append((a - s.size() % a) % a, '\0');
    return *this;
  }
  // Header: magic, version, counts.
  static Bytes header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    Bytes b;
    b.raw("GGUF").u32(version).u64(tensors).u64(kvs);
    return b;
  }
  // A kv with a uint32 value.
  Bytes& kv_u32(const std::string& k, uint32_t v) { return str(k).u32(4).u32(v); }
  // A tensor info.
  Bytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& data(size_t n, char fill = '\x11') {
    s.append(n, fill);
    return *this;
  }
};

std::string open_error(const std::string& test, const std::string& bytes, std::string* path_out) {
  const fs::path p = duq::test::temp_dir("gguf_bad_" + test) / "bad.gguf";
  duq::test::write_bytes(p, bytes);
  *path_out = p.string();
  try {
    GgufFile::open(p);
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

// Opening `bytes` fails with a one-line message naming the file and containing `what`.
void expect_error(const std::string& test, const Bytes& bytes, const std::string& what) {
  std::string path;
  const std::string msg = open_error(test, bytes.s, &path);
  ASSERT_FALSE(msg.empty()) << "opened without error; expected: " << what;
  EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
}

// A valid file: one kv, one F32 tensor of 2 elements.
Bytes valid() {
  Bytes b = Bytes::header(1, 1);
  b.kv_u32("a.b", 7).tensor("t", {2}, 0, 0).pad_to(32).data(8).pad_to(32);
  return b;
}

}  // namespace

TEST(GgufMalformed, ControlFileOpens) {
  std::string path;
  EXPECT_EQ(open_error("control", valid().s, &path), "");
}

TEST(GgufMalformed, TooShort) {
  expect_error("empty", Bytes{}, "0 bytes, too short for a GGUF header (need 24)");
  expect_error("short", Bytes{valid().s.substr(0, 20)}, "20 bytes, too short for a GGUF header");
}

TEST(GgufMalformed, BadMagic) {
  Bytes b = valid();
  b.s[3] = 'L';
  expect_error("magic", b, "bad magic (first bytes 47 47 55 4c, expected \"GGUF\"): not a GGUF file");
}

TEST(GgufMalformed, OlderVersion) { expect_error("v2", Bytes::header(0, 0, 2), "GGUF version 2 is not supported"); }

TEST(GgufMalformed, NewerVersion) {
  expect_error("v4", Bytes::header(0, 0, 4), "written by a newer duquant/GGUF version 4; this build reads version 3");
}

TEST(GgufMalformed, BigEndian) { expect_error("be", Bytes::header(0, 0, 0x03000000), "big-endian GGUF"); }

TEST(GgufMalformed, AbsurdTensorCount) {
  expect_error("tensor_count", Bytes::header(1000000000000ull, 0).data(64),
               "tensor_count 1000000000000 is absurd: the remaining 64 bytes hold at most 2 tensor infos");
}

TEST(GgufMalformed, AbsurdKvCount) {
  expect_error("kv_count", Bytes::header(0, ~0ull).data(26), "metadata_kv_count 18446744073709551615 is absurd");
  // Each count alone fits; both together do not.
  expect_error("both_counts", Bytes::header(1, 3).data(64), "cannot both fit");
}

TEST(GgufMalformed, StringLengthPastEnd) {
  Bytes b = Bytes::header(0, 1);
  b.u64(1000).raw("abcdefgh").u32(4).u32(1);
  expect_error("str_len", b, "at offset 24: key of metadata entry 0: string length 1000 runs past the end");
  Bytes c = Bytes::header(0, 1);
  c.str("k").u32(8).u64(~0ull).raw("abcdefgh");
  expect_error("str_len_value", c, "at offset 37: key 'k': string length 18446744073709551615 runs past the end");
}

TEST(GgufMalformed, ArrayCountPastEnd) {
  Bytes b = Bytes::header(0, 1);
  b.str("arr").u32(9).u32(4).u64(1ull << 62).u32(1).u32(2);
  expect_error("arr_count", b, "key 'arr': array of 4611686018427387904 uint32 runs past the end of the file");
  Bytes c = Bytes::header(0, 1);
  c.str("arr").u32(9).u32(8).u64(3).str("a").str("b");  // 3 strings announced, 2 present
  expect_error("arr_str_count", c, "key 'arr': array of 3 string runs past the end");
}

TEST(GgufMalformed, TruncatedMidValue) {
  Bytes b = Bytes::header(0, 2);
  b.kv_u32("a", 1).str("b").u32(10).u32(5);  // uint64 value cut after 4 bytes
  expect_error("mid_value", b, "key 'b' needs 8 bytes but the file ends after 4 more");
}

TEST(GgufMalformed, UnknownValueType) {
  Bytes b = Bytes::header(0, 1);
  b.str("k").u32(13).u32(0);
  expect_error("value_type", b, "at offset 33: key 'k': unknown value type 13");
}

TEST(GgufMalformed, UnknownArrayElementType) {
  Bytes b = Bytes::header(0, 1);
  b.str("k").u32(9).u32(99).u64(0);
  expect_error("elem_type", b, "key 'k': unknown array element type 99");
}

TEST(GgufMalformed, NestedArray) {
  Bytes b = Bytes::header(0, 1);
  b.str("k").u32(9).u32(9).u64(1).u32(4).u64(0);
  expect_error("nested", b, "key 'k': arrays of arrays are not supported");
}

TEST(GgufMalformed, BadBool) {
  Bytes b = Bytes::header(0, 1);
  b.str("k").u32(7).u8(2).data(16);
  expect_error("bool", b, "key 'k': bool byte is 2, expected 0 or 1");
}

TEST(GgufMalformed, DuplicateKey) {
  Bytes b = Bytes::header(0, 2);
  b.kv_u32("dup.key", 1).kv_u32("dup.key", 2);
  expect_error("dup_key", b, "at offset 47: duplicate key 'dup.key'");
}

TEST(GgufMalformed, DuplicateTensorName) {
  Bytes b = Bytes::header(2, 0);
  b.tensor("t", {2}, 0, 0).tensor("t", {2}, 0, 32).pad_to(32).data(64);
  expect_error("dup_tensor", b, "duplicate tensor 't'");
}

TEST(GgufMalformed, NDimsZeroOrTooMany) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {}, 0, 0).data(64);
  expect_error("ndims0", b, "tensor 't': n_dims is 0, expected 1..4");
  Bytes c = Bytes::header(1, 0);
  c.tensor("t", {1, 1, 1, 1, 2}, 0, 0).pad_to(32).data(32);
  expect_error("ndims5", c, "tensor 't': n_dims is 5, expected 1..4");
}

TEST(GgufMalformed, DimsOverflow) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {1ull << 32, 1ull << 32, 1ull << 32}, 0, 0).pad_to(32).data(32);
  expect_error("dims_overflow", b, "tensor 't': dims [4294967296, 4294967296, 4294967296] overflow the element count");
}

TEST(GgufMalformed, DimsOver2To40Elements) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {1ull << 21, 1ull << 20}, 24, 0).pad_to(32).data(32);
  expect_error("dims_huge", b, "tensor 't': dims [2097152, 1048576] hold more than 2^40 elements");
}

TEST(GgufMalformed, UnsupportedTensorType) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {32}, 2, 0).pad_to(32).data(32);
  expect_error("ggml_type", b, "tensor 't': ggml type 2 (Q4_0) is not supported");
  Bytes c = Bytes::header(1, 0);
  c.tensor("t", {32}, 1234, 0).pad_to(32).data(32);
  expect_error("ggml_type_unknown", c, "tensor 't': ggml type 1234 is not supported");
}

TEST(GgufMalformed, TensorOffsetNotAligned) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {2}, 0, 4).pad_to(32).data(32);
  expect_error("unaligned", b, "tensor 't': data offset 4 is not a multiple of the alignment 32");
  // With general.alignment = 8 the same offset 4 is still wrong, 8 is fine.
  Bytes c = Bytes::header(1, 1);
  c.kv_u32("general.alignment", 8).tensor("t", {2}, 0, 4).pad_to(8).data(16);
  expect_error("unaligned8", c, "data offset 4 is not a multiple of the alignment 8");
  // Powers of two, but too large to be real: said as such (16 MiB is the largest accepted).
  Bytes d = Bytes::header(1, 1);
  d.kv_u32("general.alignment", 1u << 30).tensor("t", {2}, 0, 0).pad_to(32).data(16);
  expect_error("huge_alignment", d, "general.alignment is 1073741824, above the supported maximum 16777216");
  Bytes e = Bytes::header(1, 1);
  e.kv_u32("general.alignment", 1u << 24).tensor("t", {2}, 0, 0).pad_to(32).data(16);
  expect_error("max_alignment", e, "the data section would start at 16777216, past the end of the file");
}

TEST(GgufMalformed, TensorDataPastEnd) {
  Bytes b = Bytes::header(1, 0);
  b.tensor("t", {4}, 0, 0).pad_to(32).data(8);  // 16 bytes announced, 8 present
  expect_error(
      "past_end", b,
      "tensor 't' (F32 [4], 16 bytes at data offset 0, file offset 64) runs past the end of the file (72 bytes");
  Bytes c = Bytes::header(1, 0);
  c.tensor("t", {2}, 0, 1ull << 60).pad_to(32).data(8);  // offset far beyond the file
  expect_error("past_end_offset", c, "runs past the end of the file");
  Bytes d = Bytes::header(1, 0);
  d.tensor("t", {2}, 0, 0);  // file ends right after the header: no data section at all
  expect_error("no_data_section", d,
               "the header ends at offset 57 and the data section would start at 64, past the end");
}

TEST(GgufMalformed, OverlappingTensors) {
  Bytes b = Bytes::header(2, 0);
  b.tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad_to(32).data(64);  // a covers [0, 64), b [32, 64)
  expect_error("overlap", b, "tensor 'b' data [32, 64) overlaps tensor 'a' data [0, 64)");
}

TEST(GgufMalformed, AlignmentNotPowerOfTwo) {
  Bytes b = Bytes::header(0, 1);
  b.kv_u32("general.alignment", 48);
  expect_error("align48", b, "general.alignment is 48, which is not a power of two");
  Bytes c = Bytes::header(0, 1);
  c.kv_u32("general.alignment", 0);
  expect_error("align0", c, "general.alignment is 0, which is not a power of two");
  Bytes d = Bytes::header(0, 1);
  d.str("general.alignment").u32(10).u64(64);
  expect_error("align_u64", d, "key general.alignment has type uint64, expected uint32");
}

TEST(GgufMalformed, NotAFile) {
  const fs::path d = duq::test::temp_dir("gguf_bad_missing");
  try {
    GgufFile::open(d / "absent.gguf");
    FAIL() << "opened a missing file";
  } catch (const duq::Error& e) {
    EXPECT_NE(std::string(e.what()).find((d / "absent.gguf").string()), std::string::npos) << e.what();
  }
}

// Flipped bytes, truncations and overwritten 64-bit fields of a valid file: every variant must either
// open or throw duq::Error — never crash, hang or read out of bounds (run under DUQ_SANITIZE to be sure).
// The buffer handed to the parser is exactly the file's size, so an overread is caught by ASan.
TEST(GgufMalformed, RandomCorruptionNeverCrashes) {
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  std::vector<uint8_t> blob(37, 0x5a);
  GgufWriter wr(64);
  wr.add_kv("general.name", "fuzz");
  wr.add_kv("x.count", uint64_t{12});
  wr.add_kv("x.scores", std::vector<float>{1.f, 2.f, 3.f});
  wr.add_kv("x.tokens", std::vector<std::string>{"<s>", "</s>", "a", "bc"});
  wr.add_kv("x.flags", std::vector<bool>{true, false});
  wr.add_kv("x.flag", true);
  wr.add_tensor("w", GgmlType::F32, {16, 4}, {reinterpret_cast<const uint8_t*>(w.data()), w.size() * 4});
  wr.add_tensor("v", GgmlType::F16, {8}, {reinterpret_cast<const uint8_t*>(w.data()), 16});
  wr.add_blob("p", "test.v1", {37}, blob);
  const fs::path dir = duq::test::temp_dir("gguf_fuzz");
  wr.write(dir / "ok.gguf");
  const std::string good = duq::test::read_text(dir / "ok.gguf");
  const size_t header_bytes = GgufFile::open(dir / "ok.gguf").data_offset();

  duq::Rng rng(1234);
  int opened = 0, rejected = 0;
  for (int iter = 0; iter < 500; ++iter) {
    std::string b = good;
    switch (rng.below(4)) {
      case 0:  // flip 1-4 random bits, mostly in the header where they matter
        for (uint64_t k = 0, n = 1 + rng.below(4); k < n; ++k) {
          const size_t at = rng.below(4) ? rng.below(header_bytes) : rng.below(b.size());
          b[at] = static_cast<char>(b[at] ^ (1 << rng.below(8)));
        }
        break;
      case 1:  // truncate
        b.resize(rng.below(b.size()));
        break;
      case 2: {  // overwrite 8 bytes of the header with a random or extreme value
        const uint64_t vals[] = {0, 1, ~0ull, 1ull << 63, rng.next_u64(), 0xffffffffull, 5};
        const uint64_t v = vals[rng.below(7)];
        const size_t at = rng.below(header_bytes - 8);
        std::memcpy(b.data() + at, &v, 8);
        break;
      }
      default:  // random byte values in a few places
        for (int k = 0; k < 3; ++k) b[rng.below(header_bytes)] = static_cast<char>(rng.below(256));
        break;
    }
    std::vector<uint8_t> exact(b.begin(), b.end());  // exactly sized heap buffer
    try {
      const GgufHeader h = parse_gguf(exact.data(), exact.size(), "fuzz.gguf");
      unsigned sum = 0;  // touch every byte the parser says is ours
      for (const GgufTensor& t : h.tensors)
        for (uint8_t x : t.bytes()) sum += x;
      for (const auto& kv : h.metadata) sum += static_cast<unsigned>(kv.second.to_string().size());
      (void)sum;
      ++opened;
    } catch (const duq::Error& e) {
      EXPECT_NE(std::string(e.what()).find("fuzz.gguf"), std::string::npos) << e.what();
      ++rejected;
    }
    if (iter % 100 == 0) {  // and through a real file now and then
      duq::test::write_bytes(dir / "bad.gguf", b);
      try {
        GgufFile::open(dir / "bad.gguf");
      } catch (const duq::Error&) {
      }
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(opened, 0);
  std::printf("corruption loop: %d opened, %d rejected\n", opened, rejected);
}
