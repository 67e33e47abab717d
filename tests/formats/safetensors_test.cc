// safetensors: round trips through the writer, a hand-made file read byte for byte, and sharded
// directories via model.safetensors.index.json.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/safetensors.h"
#include "test_support.h"

using namespace duq::formats;
namespace fs = std::filesystem;

namespace {

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}

std::string f32_bytes(std::initializer_list<float> v) {
  std::string s;
  for (float f : v) s.append(reinterpret_cast<const char*>(&f), 4);
  return s;
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i) - n / 3.0f) + 0.1f;
  return v;
}

}  // namespace

TEST(Safetensors, ReadsAHandMadeFile) {
  // Exactly the layout the format specifies: u64 header length, JSON, data section.
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}})";
  const fs::path p = duq::test::temp_dir("st_hand") / "x.safetensors";
  duq::test::write_bytes(p, le64(header.size()) + header + f32_bytes({1.f, 2.f, -3.f, 4.5f}));
  const TensorStore s = TensorStore::open(p);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.metadata().at("format"), "pt");
  const duq::Mat a = s.to_f32("a", 1, 2);
  EXPECT_EQ(a(0, 0), 1.f);
  EXPECT_EQ(a(0, 1), 2.f);
  const duq::Vec b = s.to_vec("b", 2);
  EXPECT_EQ(b[0], -3.f);
  EXPECT_EQ(b[1], 4.5f);
  EXPECT_EQ(s.get("b").file, p.string());
  EXPECT_EQ(s.get("a").shape, (std::vector<int64_t>{1, 2}));
}

TEST(Safetensors, RoundTripsF32F16Bf16) {
  const fs::path p = duq::test::temp_dir("st_roundtrip") / "m.safetensors";
  const auto w = ramp(6 * 5, 0.37f);
  const auto v = ramp(7, -1.3f);
  const auto scalar = std::vector<float>{42.f};
  write_safetensors(p,
                    {{"w32", DType::F32, {6, 5}, w},
                     {"w16", DType::F16, {6, 5}, w},
                     {"wbf", DType::BF16, {6, 5}, w},
                     {"v16", DType::F16, {7}, v},
                     {"s", DType::F32, {}, scalar}},
                    {{"format", "pt"}, {"note", "duquant test"}});

  // Header padded so the data section starts on an 8-byte boundary.
  const std::string bytes = duq::test::read_text(p);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  // Raw layout, read without TensorStore: header JSON names offsets into the data section, and the
  // bytes there are the little-endian values (F32 as is, BF16 as the upper halves).
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["w32"]["dtype"], "F32");
  EXPECT_EQ(header["w32"]["shape"], nlohmann::json::array({6, 5}));
  const uint64_t b32 = header["w32"]["data_offsets"][0], bbf = header["wbf"]["data_offsets"][0];
  EXPECT_EQ(header["w32"]["data_offsets"][1].get<uint64_t>() - b32, 120u);
  float first;
  std::memcpy(&first, bytes.data() + 8 + n + b32, 4);
  EXPECT_EQ(first, w[0]);
  uint16_t first_bf;
  std::memcpy(&first_bf, bytes.data() + 8 + n + bbf, 2);
  uint32_t w0bits;
  std::memcpy(&w0bits, &w[0], 4);
  EXPECT_EQ(first_bf, f32_to_bf16(w[0]));
  EXPECT_LE(std::abs(static_cast<int>(first_bf) - static_cast<int>(w0bits >> 16)), 1);

  const TensorStore s = TensorStore::open(p);
  EXPECT_EQ(s.metadata().at("note"), "duquant test");
  EXPECT_EQ(s.get("w16").dtype, DType::F16);
  EXPECT_EQ(s.get("w16").nbytes, 60u);
  EXPECT_EQ(s.get("s").numel, 1);
  const duq::Mat m32 = s.to_f32("w32", 6, 5), m16 = s.to_f32("w16", 6, 5), mbf = s.to_f32("wbf", 6, 5);
  for (int64_t i = 0; i < 30; ++i) {
    EXPECT_EQ(m32.data()[i], w[i]);
    EXPECT_EQ(m16.data()[i], f16_to_f32(f32_to_f16(w[i])));
    EXPECT_EQ(mbf.data()[i], bf16_to_f32(f32_to_bf16(w[i])));
  }
  const duq::Mat row = s.to_f32("v16");  // a vector reads as [1 × n]
  EXPECT_EQ(row.rows(), 1);
  EXPECT_EQ(row.cols(), 7);
  EXPECT_EQ(row(0, 6), f16_to_f32(f32_to_f16(v[6])));
}

TEST(Safetensors, ShapeChecksNameTensorAndFile) {
  const fs::path p = duq::test::temp_dir("st_shape") / "m.safetensors";
  const auto w = ramp(6, 1.f);
  write_safetensors(p, {{"w", DType::F32, {2, 3}, w}});
  const TensorStore s = TensorStore::open(p);
  try {
    s.to_f32("w", 3, 2);
    FAIL() << "expected an error";
  } catch (const duq::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
    EXPECT_NE(m.find("'w'"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("expected [3, 2]"), std::string::npos) << m;
  }
  EXPECT_THROW(s.to_vec("w", 6), duq::Error);
  try {
    s.get("nope");
    FAIL();
  } catch (const duq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor 'nope'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, OpensADirectoryWithModelSafetensors) {
  const fs::path d = duq::test::temp_dir("st_dir");
  const auto w = ramp(4, 1.f);
  write_safetensors(d / "model.safetensors", {{"w", DType::BF16, {4}, w}});
  const TensorStore s = TensorStore::open(d);
  EXPECT_TRUE(s.has("w"));
  const fs::path empty = duq::test::temp_dir("st_dir_empty");
  try {
    TensorStore::open(empty);
    FAIL();
  } catch (const duq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("neither model.safetensors nor"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, OpensShardsThroughIndexJson) {
  const fs::path d = duq::test::temp_dir("st_shards");
  const auto a = ramp(6, 0.5f), b = ramp(3, 2.f);
  write_safetensors(d / "model-00001-of-00002.safetensors", {{"a", DType::F32, {2, 3}, a}});
  write_safetensors(d / "model-00002-of-00002.safetensors", {{"b", DType::F16, {3}, b}, {"c", DType::F32, {3}, b}});
  duq::test::write_bytes(d / "model.safetensors.index.json",
                         R"({"metadata":{"total_size":42},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                         R"("b":"model-00002-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}})");
  const TensorStore s = TensorStore::open(d);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.to_f32("a", 2, 3)(1, 2), a[5]);
  EXPECT_EQ(s.to_vec("b", 3)[2], f16_to_f32(f32_to_f16(b[2])));
  EXPECT_EQ(s.get("b").file, (d / "model-00002-of-00002.safetensors").string());
  EXPECT_EQ(s.metadata().at("total_size"), "42");
}

TEST(Safetensors, WriterRejectsBadRequests) {
  const fs::path d = duq::test::temp_dir("st_writer_bad");
  const auto v = ramp(2, 1.f);
  EXPECT_THROW(write_safetensors(d / "x.safetensors", {{"a", DType::F32, {2}, v}, {"a", DType::F32, {2}, v}}),
               duq::Error);
  EXPECT_THROW(write_safetensors(d / "x.safetensors", {{"a", DType::I32, {2}, v}}), duq::Error);
  EXPECT_THROW(write_safetensors(d / "x.safetensors", {{"__metadata__", DType::F32, {2}, v}}), duq::Error);
  EXPECT_FALSE(fs::exists(d / "x.safetensors"));
  // A folder that does not exist: the error names the path.
  try {
    write_safetensors(d / "missing" / "x.safetensors", {{"a", DType::F32, {2}, v}});
    FAIL();
  } catch (const duq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x.safetensors"), std::string::npos) << e.what();
  }
}
