// GGUF: a tiny file checked byte for byte against a layout worked out by hand, round trips of every
// metadata type and tensor type through the writer and reader, the packed-blob convention, accessor and
// writer errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"
#include "test_support.h"

using namespace duq::formats;
namespace fs = std::filesystem;

namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size();) {
    if (hex[i] == ' ' || hex[i] == '\n') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

template <class T>
std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

// The message of the duq::Error `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(expr, text)                                                                     \
  do {                                                                                                   \
    const std::string msg_ = error_of([&] { (void)(expr); });                                            \
    EXPECT_NE(msg_.find(text), std::string::npos) << "expected '" << (text) << "' in: '" << msg_ << "'"; \
  } while (0)

}  // namespace

TEST(Gguf, TinyFileMatchesTheSpecByteForByte) {
  // One uint32 kv "a.b" = 7 and one F32 tensor "t" of 2 elements {1, 2}, default alignment 32.
  const std::vector<float> t = {1.f, 2.f};
  GgufWriter w;
  w.add_kv("a.b", uint32_t{7});
  w.add_tensor("t", GgmlType::F32, {2}, as_bytes(t));
  const fs::path p = duq::test::temp_dir("gguf_tiny") / "tiny.gguf";
  w.write(p);

  const std::string expected = unhex(
      "47 47 55 46"              // "GGUF"                                   [0, 4)
      "03 00 00 00"              // version 3                                 [4, 8)
      "01 00 00 00 00 00 00 00"  // tensor_count 1                            [8, 16)
      "01 00 00 00 00 00 00 00"  // metadata_kv_count 1                       [16, 24)
      "03 00 00 00 00 00 00 00"  // key length 3                              [24, 32)
      "61 2e 62"                 // "a.b"                                     [32, 35)
      "04 00 00 00"              // value type UINT32                         [35, 39)
      "07 00 00 00"              // 7                                         [39, 43)
      "01 00 00 00 00 00 00 00"  // tensor name length 1                      [43, 51)
      "74"                       // "t"                                       [51, 52)
      "01 00 00 00"              // n_dims 1                                  [52, 56)
      "02 00 00 00 00 00 00 00"  // dims[0] = 2                               [56, 64)
      "00 00 00 00"              // ggml type F32                             [64, 68)
      "00 00 00 00 00 00 00 00"  // offset 0                                  [68, 76)
      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"  // pad to 96 [76, 96)
      "00 00 80 3f 00 00 00 40"  // 1.0f, 2.0f                                [96, 104)
      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");  // pad to 128
  ASSERT_EQ(expected.size(), 128u);
  const std::string got = duq::test::read_text(p);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(static_cast<uint8_t>(got[i]), static_cast<uint8_t>(expected[i])) << "byte " << i;

  // And the reader sees exactly that.
  const GgufFile f = GgufFile::open(p);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 96u);
  EXPECT_EQ(f.get<uint32_t>("a.b"), 7u);
  const GgufTensor& tt = f.tensor("t", GgmlType::F32, std::vector<uint64_t>{2});
  EXPECT_EQ(tt.offset, 0u);
  EXPECT_EQ(tt.nbytes, 8u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tt.data) % 32, 0u);  // the mapping is page-aligned
  float back[2];
  std::memcpy(back, tt.data, 8);
  EXPECT_EQ(back[0], 1.f);
  EXPECT_EQ(back[1], 2.f);
}

// Every value type, every array element type (incl. empty arrays, bools, strings with NUL and UTF-8).
std::vector<std::pair<std::string, GgufValue>> all_values() {
  using namespace std::string_literals;
  return {
      {"v.u8", uint8_t{250}},
      {"v.i8", int8_t{-120}},
      {"v.u16", uint16_t{65000}},
      {"v.i16", int16_t{-32000}},
      {"v.u32", uint32_t{4000000000u}},
      {"v.i32", int32_t{-2000000000}},
      {"v.f32", 3.25e-7f},
      {"v.bool_t", true},
      {"v.bool_f", false},
      {"v.str", "héllo \"wörld\""},
      {"v.str_empty", ""},
      {"v.str_nul", GgufValue("a\0b"s)},
      {"v.u64", uint64_t{18000000000000000000ull}},
      {"v.i64", int64_t{-9000000000000000000ll}},
      {"v.f64", -1.0 / 3.0},
      {"a.u8", std::vector<uint8_t>{0, 1, 255}},
      {"a.i8", std::vector<int8_t>{-128, 0, 127}},
      {"a.u16", std::vector<uint16_t>{1, 65535}},
      {"a.i16", std::vector<int16_t>{-32768, 32767}},
      {"a.u32", std::vector<uint32_t>{1, 2, 3, 4294967295u}},
      {"a.i32", std::vector<int32_t>{-1, 0, 1}},
      {"a.f32", std::vector<float>{0.5f, -1e30f, std::numeric_limits<float>::denorm_min()}},
      {"a.bool", std::vector<bool>{true, false, true, true}},
      {"a.str", std::vector<std::string>{"a", "", "ünïcode", std::string(300, 'x')}},
      {"a.u64", std::vector<uint64_t>{0, ~0ull}},
      {"a.i64", std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 5}},
      {"a.f64", std::vector<double>{1e300, -0.0}},
      {"a.empty_u32", std::vector<uint32_t>{}},
      {"a.empty_str", std::vector<std::string>{}},
  };
}

TEST(Gguf, RoundTripsEveryMetadataType) {
  for (uint32_t alignment : {32u, 1u, 64u, 4096u}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w(alignment);
    const auto values = all_values();
    for (const auto& [k, v] : values) w.add_kv(k, v);
    const fs::path p = duq::test::temp_dir("gguf_rt_meta") / "m.gguf";
    w.write(p);
    const GgufFile f = GgufFile::open(p);
    EXPECT_EQ(f.alignment(), alignment);
    const size_t extra = alignment == 32 ? 0 : 1;  // general.alignment written only when not the default
    ASSERT_EQ(f.metadata().size(), values.size() + extra);
    if (extra) {
      EXPECT_EQ(f.metadata()[0].first, "general.alignment");
      EXPECT_EQ(f.get<uint32_t>("general.alignment"), alignment);
    }
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(f.metadata()[i + extra].first, values[i].first);  // file order kept
      EXPECT_EQ(f.metadata()[i + extra].second, values[i].second)
          << values[i].first << ": " << f.metadata()[i + extra].second.to_string();
      EXPECT_EQ(f.value(values[i].first).type(), values[i].second.type());
    }
    EXPECT_EQ(f.get<std::string>("v.str_nul"), std::string("a\0b", 3));
    EXPECT_EQ(f.get<int64_t>("v.i64"), -9000000000000000000ll);
    EXPECT_EQ(f.get_array<std::string>("a.str")[3], std::string(300, 'x'));
    EXPECT_EQ(f.get_array<bool>("a.bool"), (std::vector<bool>{true, false, true, true}));
    EXPECT_TRUE(std::signbit(f.get_array<double>("a.f64")[1]));
    EXPECT_TRUE(f.tensors().empty());
  }
}

TEST(Gguf, RoundTripsEveryTensorTypeAligned) {
  std::vector<float> f32(3 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = 0.25f * static_cast<float>(i) - 1.f;
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7bff};
  std::vector<uint16_t> bf16 = {0x3f80, 0x4049, 0xff80, 0x0001, 0x8000, 0x7fc0, 0x1234};
  std::vector<int8_t> i8 = {-128, -1, 0, 1, 127};
  std::vector<int16_t> i16 = {-32768, 7, 32767, 0};
  std::vector<int32_t> i32 = {-5, 6, -7, 8, 9, 10, 11, 12};
  std::vector<int64_t> i64 = {1ll << 62, -3};
  std::vector<double> f64 = {3.5, -2.25};
  std::vector<float> empty;
  struct T {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> dims;
    std::span<const uint8_t> bytes;
  };
  const std::vector<T> ts = {
      {"w.f32", GgmlType::F32, {5, 3}, as_bytes(f32)},  // ggml order: 3 rows of 5
      {"w.f16", GgmlType::F16, {3}, as_bytes(f16)},
      {"w.bf16", GgmlType::BF16, {7, 1, 1, 1}, as_bytes(bf16)},
      {"w.i8", GgmlType::I8, {5}, as_bytes(i8)},
      {"w.i16", GgmlType::I16, {2, 2}, as_bytes(i16)},
      {"w.i32", GgmlType::I32, {2, 2, 2}, as_bytes(i32)},
      {"w.i64", GgmlType::I64, {2}, as_bytes(i64)},
      {"w.f64", GgmlType::F64, {1, 2}, as_bytes(f64)},
      {"w.empty", GgmlType::F32, {0, 4}, as_bytes(empty)},
      {std::string(63, 'n'), GgmlType::I8, {5}, as_bytes(i8)},  // longest name ggml accepts
  };
  for (uint32_t alignment : {32u, 1u, 8u, 64u}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w(alignment);
    w.add_kv("general.name", "tensors");
    for (const T& t : ts) w.add_tensor(t.name, t.type, t.dims, t.bytes);
    const fs::path p = duq::test::temp_dir("gguf_rt_tensors") / "t.gguf";
    w.write(p);
    const GgufFile f = GgufFile::open(p);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), ts.size());
    uint64_t next = 0;  // ggml's layout: back to back, each padded to the alignment
    for (size_t i = 0; i < ts.size(); ++i) {
      const GgufTensor& g = f.tensors()[i];
      EXPECT_EQ(g.name, ts[i].name);
      EXPECT_EQ(g.type, ts[i].type);
      EXPECT_EQ(g.dims, ts[i].dims);
      EXPECT_EQ(g.offset, next);
      EXPECT_EQ(g.nbytes, ts[i].bytes.size());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(g.data) % alignment, 0u) << g.name;
      EXPECT_TRUE(std::equal(g.bytes().begin(), g.bytes().end(), ts[i].bytes.begin(), ts[i].bytes.end())) << g.name;
      EXPECT_EQ(&f.tensor(ts[i].name, ts[i].bytes.size()), &g);
      next = (g.offset + g.nbytes + alignment - 1) / alignment * alignment;
    }
    EXPECT_EQ(fs::file_size(p), f.data_offset() + next);  // the file ends padded
    EXPECT_EQ(f.tensor("w.f32").numel, 15u);
  }
}

TEST(Gguf, PackedBlobConvention) {
  std::vector<uint8_t> packed(4096 * 11008 / 2 / 1024);  // a stand-in for int4 data, two values per byte
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 37 + 11);
  GgufWriter w;
  w.add_kv("duquant.method", "duquant");
  w.add_blob("blk.0.ffn_up.weight", "w4.test.v1", {11008 / 32, 4096 / 32}, packed);
  const fs::path p = duq::test::temp_dir("gguf_blob") / "b.gguf";
  w.write(p);
  const GgufFile f = GgufFile::open(p);
  // What any standard reader sees: a 1-D I8 tensor of the byte count and two ordinary keys.
  const GgufTensor& t = f.tensor("blk.0.ffn_up.weight");
  EXPECT_EQ(t.type, GgmlType::I8);
  EXPECT_EQ(t.dims, (std::vector<uint64_t>{packed.size()}));
  EXPECT_EQ(f.get<std::string>("duquant.blob.blk.0.ffn_up.weight.layout"), "w4.test.v1");
  EXPECT_EQ(f.get_array<uint64_t>("duquant.blob.blk.0.ffn_up.weight.shape"),
            (std::vector<uint64_t>{11008 / 32, 4096 / 32}));
  const GgufBlob b = f.blob("blk.0.ffn_up.weight");
  EXPECT_EQ(b.layout, "w4.test.v1");
  EXPECT_EQ(b.shape, (std::vector<uint64_t>{344, 128}));
  EXPECT_TRUE(std::equal(b.bytes.begin(), b.bytes.end(), packed.begin(), packed.end()));
}

TEST(Gguf, BlobErrors) {
  std::vector<float> x = {1, 2};
  std::vector<uint8_t> raw = {1, 2, 3};
  GgufWriter w;
  w.add_tensor("plain", GgmlType::F32, {2}, as_bytes(x));
  w.add_tensor("nokeys", GgmlType::I8, {3}, raw);
  const fs::path p = duq::test::temp_dir("gguf_blob_err") / "b.gguf";
  w.write(p);
  const GgufFile f = GgufFile::open(p);
  EXPECT_ERROR_HAS(f.blob("plain"), "tensor plain is F32 [2], expected a packed blob (1-D I8)");
  EXPECT_ERROR_HAS(f.blob("nokeys"), "missing key duquant.blob.nokeys.layout in " + p.string());
  EXPECT_ERROR_HAS(f.blob("absent"), p.string() + ": no tensor absent");
}

TEST(Gguf, AccessorErrorsNameFileKeyAndTypes) {
  std::vector<float> x(1024);
  GgufWriter w;
  w.add_kv("duquant.method", "rtn");
  w.add_kv("duquant.bits", int32_t{-4});
  w.add_kv("duquant.group", uint16_t{128});
  w.add_kv("duquant.list", std::vector<uint32_t>{1, 2});
  w.add_tensor("blk.0.attn_q.weight", GgmlType::F32, {32, 32}, as_bytes(x));
  const fs::path p = duq::test::temp_dir("gguf_access") / "a.gguf";
  w.write(p);
  const GgufFile f = GgufFile::open(p);
  const std::string file = p.string();

  EXPECT_ERROR_HAS(f.get<std::string>("duquant.nope"), "missing key duquant.nope in " + file);
  EXPECT_ERROR_HAS(f.get<uint32_t>("duquant.method"), file + ": key duquant.method has type string, expected uint32");
  EXPECT_ERROR_HAS(f.get_array<int32_t>("duquant.list"),
                   file + ": key duquant.list has type array of uint32, expected array of int32");
  EXPECT_ERROR_HAS(f.get_array<uint32_t>("duquant.method"), "has type string, expected array of uint32");
  EXPECT_ERROR_HAS(f.get_uint("duquant.bits"), "key duquant.bits is -4, expected a non-negative integer");
  EXPECT_ERROR_HAS(f.get_uint("duquant.method"), "key duquant.method has type string, expected an integer");
  EXPECT_EQ(f.get_uint("duquant.group"), 128u);
  EXPECT_EQ(f.get_or<std::string>("duquant.absent", "dflt"), "dflt");
  EXPECT_EQ(f.get_or<std::string>("duquant.method", "dflt"), "rtn");
  EXPECT_EQ(f.find("duquant.absent"), nullptr);
  EXPECT_EQ(f.find_tensor("absent"), nullptr);

  EXPECT_ERROR_HAS(f.tensor("blk.0.attn_q.weight", 8192),
                   file + ": tensor blk.0.attn_q.weight: expected 8192 bytes, file has 4096");
  EXPECT_ERROR_HAS(f.tensor("blk.0.attn_q.weight", GgmlType::F16, std::vector<uint64_t>{32, 32}),
                   "tensor blk.0.attn_q.weight is F32 [32, 32], expected F16 [32, 32]");
  EXPECT_ERROR_HAS(f.tensor("blk.0.attn_q.weight", GgmlType::F32, std::vector<uint64_t>{32, 16}),
                   "expected F32 [32, 16]");
  EXPECT_ERROR_HAS(f.tensor("blk.9.attn_q.weight"), file + ": no tensor blk.9.attn_q.weight");
}

TEST(Gguf, ValueTypesAndPrinting) {
  EXPECT_EQ(GgufValue(7).type(), GgufValueType::I32);
  EXPECT_EQ(GgufValue(7u).type(), GgufValueType::U32);
  EXPECT_EQ(GgufValue("x").type(), GgufValueType::String);
  EXPECT_EQ(GgufValue(std::vector<const char*>{"a", "b"}).type_name(), "array of string");
  EXPECT_EQ(GgufValue(1.5).type(), GgufValueType::F64);
  EXPECT_EQ(GgufValue(true).type(), GgufValueType::Bool);
  EXPECT_EQ(gguf_type_of<int64_t>(), GgufValueType::I64);
  EXPECT_EQ(GgufValue(uint8_t{200}).to_string(), "200");
  EXPECT_EQ(GgufValue("q\"").to_string(), "\"q\\\"\"");
  EXPECT_EQ(GgufValue(std::vector<int32_t>{1, 2, 3}).to_string(), "[1, 2, 3]");
  EXPECT_EQ(GgufValue(std::vector<uint8_t>(10, 1)).to_string(), "[1, 1, 1, 1, 1, 1, 1, 1, … (2 more)]");
}

TEST(Gguf, WriterRejectsBadInput) {
  std::vector<float> x = {1, 2, 3};
  GgufWriter w;
  w.add_kv("k", 1u);
  EXPECT_ERROR_HAS(w.add_kv("k", 2u), "duplicate key 'k'");
  EXPECT_ERROR_HAS(w.add_kv("", 2u), "key '' must be 1 to 65535 bytes");
  EXPECT_ERROR_HAS(w.add_kv("general.alignment", 64u), "through GgufWriter(alignment)");
  w.add_tensor("t", GgmlType::F32, {3}, as_bytes(x));
  EXPECT_ERROR_HAS(w.add_tensor("t", GgmlType::F32, {3}, as_bytes(x)), "duplicate tensor 't'");
  EXPECT_ERROR_HAS(w.add_tensor("u", GgmlType::F32, {2}, as_bytes(x)), "dims [2] as F32 need 8 bytes, got 12");
  EXPECT_ERROR_HAS(w.add_tensor("u", GgmlType::F32, {}, as_bytes(x)), "has 0 dims, expected 1 to 4");
  EXPECT_ERROR_HAS(w.add_tensor("u", GgmlType::F32, {1, 1, 1, 1, 3}, as_bytes(x)), "has 5 dims");
  EXPECT_ERROR_HAS(w.add_tensor(std::string(64, 'n'), GgmlType::I8, {12}, as_bytes(x)), "1 to 63 bytes");
  EXPECT_ERROR_HAS(w.add_tensor("u", static_cast<GgmlType>(2), {12}, as_bytes(x)), "unsupported ggml type 2");
  EXPECT_ERROR_HAS(w.add_tensor("u", GgmlType::I8, {1ull << 32, 1ull << 32}, as_bytes(x)), "more than 2^40");
  EXPECT_ERROR_HAS(GgufWriter(48), "alignment 48 is not a power of two");
  EXPECT_ERROR_HAS(GgufWriter(0), "alignment 0 is not a power of two");
}

TEST(Gguf, WriteIsAtomic) {
  const fs::path d = duq::test::temp_dir("gguf_atomic");
  const fs::path p = d / "x.gguf";
  duq::test::write_bytes(p, "old contents");
  std::vector<float> x = {1, 2};
  GgufWriter w;
  w.add_tensor("t", GgmlType::F32, {2}, as_bytes(x));
  w.write(p);
  EXPECT_EQ(GgufFile::open(p).tensors().size(), 1u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  EXPECT_ERROR_HAS(w.write(d / "missing_dir" / "y.gguf"), (d / "missing_dir" / "y.gguf").string());
}
