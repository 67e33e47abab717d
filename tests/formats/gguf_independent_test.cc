// Our GGUF files as an independent reader sees them: tools/gguf-check/check.mjs parses the file with
// Hugging Face's @huggingface/gguf (Node.js, no duquant code) and prints JSON, which must match what the
// writer was given: keys, value types and values, tensor names, shapes, types, offsets and bytes.
// Skipped (with the reason) when node or the checker's node_modules are not installed
// (setup: cd tools/gguf-check && npm ci).
#include <gtest/gtest.h>

#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/gguf.h"
#include "test_support.h"

using namespace duq::formats;
namespace fs = std::filesystem;

namespace {

fs::path checker_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path() / "tools" / "gguf-check"; }

// Why the checker cannot run here, or "" when it can.
std::string checker_missing() {
  const fs::path dir = checker_dir();
  if (!fs::exists(dir / "check.mjs")) return "no " + (dir / "check.mjs").string();
  if (duq::test::run_command("node --version").exit_code != 0) return "node is not installed";
  if (!fs::exists(dir / "node_modules" / "@huggingface" / "gguf"))
    return "@huggingface/gguf is not installed (run: cd " + dir.string() + " && npm ci)";
  return "";
}

std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

// One scalar as check.mjs prints it: 64-bit integers as decimal strings, floats as numbers.
template <class T>
void expect_scalar(const T& x, const nlohmann::json& j, const std::string& where) {
  if constexpr (std::is_same_v<T, std::string>) {
    ASSERT_TRUE(j.is_string()) << where << ": " << j.dump();
    EXPECT_EQ(j.get<std::string>(), x) << where;
  } else if constexpr (std::is_same_v<T, bool>) {
    ASSERT_TRUE(j.is_boolean()) << where << ": " << j.dump();
    EXPECT_EQ(j.get<bool>(), x) << where;
  } else if constexpr (std::is_same_v<T, uint64_t> || std::is_same_v<T, int64_t>) {
    ASSERT_TRUE(j.is_string()) << where << ": " << j.dump();
    EXPECT_EQ(j.get<std::string>(), std::to_string(x)) << where;
  } else if constexpr (std::is_floating_point_v<T>) {
    ASSERT_TRUE(j.is_number()) << where << ": " << j.dump();
    EXPECT_EQ(static_cast<T>(j.get<double>()), x) << where;
    EXPECT_EQ(j.get<double>(), static_cast<double>(x)) << where;  // float32 widens exactly
  } else {
    ASSERT_TRUE(j.is_number_integer()) << where << ": " << j.dump();
    EXPECT_EQ(j.get<int64_t>(), static_cast<int64_t>(x)) << where;
  }
}

void expect_value(const GgufValue& v, const nlohmann::json& m, const std::string& key) {
  ASSERT_TRUE(m.is_object()) << "checker did not report key " << key;
  EXPECT_EQ(m.at("type").get<uint32_t>(), static_cast<uint32_t>(v.type())) << key;
  const nlohmann::json& j = m.at("value");
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, GgufArray>) {
          EXPECT_EQ(m.at("sub_type").get<uint32_t>(), static_cast<uint32_t>(x.elem_type())) << key;
          std::visit(
              [&](const auto& xs) {
                using V = std::decay_t<decltype(xs)>;
                if constexpr (!std::is_same_v<V, std::monostate>) {
                  ASSERT_TRUE(j.is_array()) << key << ": " << j.dump();
                  ASSERT_EQ(j.size(), xs.size()) << key;
                  for (size_t i = 0; i < xs.size(); ++i)
                    expect_scalar<typename V::value_type>(xs[i], j[i], key + "[" + std::to_string(i) + "]");
                }
              },
              x.v);
        } else {
          expect_scalar<T>(x, j, key);
        }
      },
      v.variant());
}

template <class T>
std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

}  // namespace

TEST(GgufIndependent, HuggingFaceReaderAgreesWithWhatWeWrote) {
  if (const std::string why = checker_missing(); !why.empty())
    GTEST_SKIP() << "independent GGUF check skipped: " << why;

  using namespace std::string_literals;
  const std::vector<std::pair<std::string, GgufValue>> kvs = {
      {"general.architecture", "none"},
      {"general.name", "indépendant \"check\""},
      {"v.u8", uint8_t{255}},
      {"v.i8", int8_t{-128}},
      {"v.u16", uint16_t{65535}},
      {"v.i16", int16_t{-32768}},
      {"v.u32", uint32_t{4294967295u}},
      {"v.i32", int32_t{-2147483647 - 1}},
      {"v.f32", 0.1f},
      {"v.bool", true},
      {"v.str_nul", GgufValue("a\0b"s)},
      {"v.u64", uint64_t{18446744073709551615ull}},
      {"v.i64", int64_t{-9007199254740993ll}},  // not representable as a double: must come back exact
      {"v.f64", 2.0 / 3.0},
      {"a.u8", std::vector<uint8_t>{0, 200}},
      {"a.i8", std::vector<int8_t>{-1, 1}},
      {"a.u16", std::vector<uint16_t>{7}},
      {"a.i16", std::vector<int16_t>{-7, 8}},
      {"a.u32", std::vector<uint32_t>{1, 4000000000u}},
      {"a.i32", std::vector<int32_t>{-5, 5}},
      {"a.f32", std::vector<float>{1.5f, -0.3f, 1e-40f}},
      {"a.bool", std::vector<bool>{false, true}},
      {"a.str", std::vector<std::string>{"<s>", "", "▁the"}},
      {"a.u64", std::vector<uint64_t>{1ull << 60, 3}},
      {"a.i64", std::vector<int64_t>{-(1ll << 60)}},
      {"a.f64", std::vector<double>{1e-300, 12345.678}},
      {"a.empty", std::vector<int32_t>{}},
  };
  std::vector<float> f32(6 * 4);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.5f - 3.f;
  const std::vector<uint16_t> f16 = {0x3c00, 0xbc00, 0x0001};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc000};
  const std::vector<int8_t> i8 = {1, -2, 3, -4, 5};
  const std::vector<int16_t> i16 = {300, -300};
  const std::vector<int32_t> i32 = {1 << 20, -(1 << 20), 0};
  std::vector<uint8_t> packed(100);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> q8(4 * 34);  // Q8_0 [64, 2]: 4 blocks of an f16 scale + 32 int8
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 13 + 1);

  for (uint32_t alignment : {32u, 64u}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w(alignment);
    for (const auto& [k, v] : kvs) w.add_kv(k, v);
    w.add_tensor("token_embd.weight", GgmlType::F32, {6, 4}, as_bytes(f32));
    w.add_tensor("h.f16", GgmlType::F16, {3}, as_bytes(f16));
    w.add_tensor("h.bf16", GgmlType::BF16, {1, 2}, as_bytes(bf16));
    w.add_tensor("h.i8", GgmlType::I8, {5}, as_bytes(i8));
    w.add_tensor("h.i16", GgmlType::I16, {2, 1, 1}, as_bytes(i16));
    w.add_tensor("h.i32", GgmlType::I32, {1, 1, 1, 3}, as_bytes(i32));
    w.add_tensor("h.q8_0", GgmlType::Q8_0, {64, 2}, q8);
    w.add_blob("blk.0.attn_q.weight", "w4.test.v1", {20, 10}, packed);
    const fs::path p = duq::test::temp_dir("gguf_independent") / "x.gguf";
    w.write(p);

    const auto r = duq::test::run_command("node " + (checker_dir() / "check.mjs").string() + " " + p.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const GgufFile f = GgufFile::open(p);

    EXPECT_EQ(j.at("version").get<uint32_t>(), 3u);
    EXPECT_EQ(j.at("problems"), nlohmann::json::array()) << j.at("problems").dump();
    EXPECT_EQ(j.at("alignment").get<uint32_t>(), alignment);
    EXPECT_EQ(j.at("tensor_data_offset").get<std::string>(), std::to_string(f.data_offset()));
    EXPECT_EQ(j.at("file_size").get<std::string>(), std::to_string(fs::file_size(p)));

    // Metadata: every key we wrote, with its type and value; nothing else but general.alignment and the
    // blob convention's two keys.
    const nlohmann::json& meta = j.at("metadata");
    EXPECT_EQ(j.at("kv_count").get<std::string>(), std::to_string(f.metadata().size()));
    EXPECT_EQ(meta.size(), f.metadata().size());
    for (const auto& [k, v] : kvs) expect_value(v, meta.value(k, nlohmann::json()), k);
    expect_value(GgufValue("w4.test.v1"), meta.value("duquant.blob.blk.0.attn_q.weight.layout", nlohmann::json()),
                 "layout");
    expect_value(GgufValue(std::vector<uint64_t>{20, 10}),
                 meta.value("duquant.blob.blk.0.attn_q.weight.shape", nlohmann::json()), "shape");
    if (alignment != 32) expect_value(GgufValue(alignment), meta.value("general.alignment", nlohmann::json()), "align");
    else EXPECT_FALSE(meta.contains("general.alignment"));

    // Tensors: same order, names, ggml-order shapes, types, offsets and bytes.
    const nlohmann::json& ts = j.at("tensors");
    EXPECT_EQ(j.at("tensor_count").get<std::string>(), "8");
    ASSERT_EQ(ts.size(), f.tensors().size());
    for (size_t i = 0; i < ts.size(); ++i) {
      const GgufTensor& t = f.tensors()[i];
      const nlohmann::json& jt = ts[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(jt.at("name").get<std::string>(), t.name);
      EXPECT_EQ(jt.at("n_dims").get<size_t>(), t.dims.size());
      std::vector<std::string> dims;
      for (uint64_t d : t.dims) dims.push_back(std::to_string(d));
      EXPECT_EQ(jt.at("shape").get<std::vector<std::string>>(), dims);
      EXPECT_EQ(jt.at("dtype").get<uint32_t>(), static_cast<uint32_t>(t.type));
      EXPECT_EQ(jt.at("offset").get<std::string>(), std::to_string(t.offset));
      EXPECT_EQ(jt.at("nbytes").get<std::string>(), std::to_string(t.nbytes));
      EXPECT_EQ(jt.at("data_hex").get<std::string>(), hex(t.bytes()));
    }
    // And the bytes are the ones handed to the writer, not merely the ones our reader finds.
    EXPECT_EQ(ts[0].at("data_hex").get<std::string>(), hex(as_bytes(f32)));
    EXPECT_EQ(ts[6].at("data_hex").get<std::string>(), hex(q8));
    EXPECT_EQ(ts[6].at("dtype").get<uint32_t>(), 8u);  // Q8_0
    EXPECT_EQ(ts[6].at("nbytes").get<std::string>(), "136");
    EXPECT_EQ(ts[7].at("data_hex").get<std::string>(), hex(packed));
    EXPECT_EQ(ts[7].at("dtype").get<uint32_t>(), 24u);  // I8
  }
}

// The checker itself must not be a rubber stamp: a file with a tensor running past the end is reported.
TEST(GgufIndependent, CheckerReportsProblems) {
  if (const std::string why = checker_missing(); !why.empty())
    GTEST_SKIP() << "independent GGUF check skipped: " << why;
  std::vector<float> x(64, 1.f);
  GgufWriter w;
  w.add_tensor("big", GgmlType::F32, {64}, as_bytes(x));
  const fs::path d = duq::test::temp_dir("gguf_independent_bad");
  w.write(d / "ok.gguf");
  std::string b = duq::test::read_text(d / "ok.gguf");
  b.resize(b.size() - 100);
  duq::test::write_bytes(d / "cut.gguf", b);
  const auto r =
      duq::test::run_command("node " + (checker_dir() / "check.mjs").string() + " " + (d / "cut.gguf").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("problems").size(), 1u) << j.dump();
  EXPECT_NE(j.at("problems")[0].get<std::string>().find("runs past the end"), std::string::npos);
  EXPECT_THROW(GgufFile::open(d / "cut.gguf"), duq::Error);  // and so does ours
}
