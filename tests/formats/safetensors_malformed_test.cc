// One test per kind of malformed safetensors input: each crafts the bytes by hand and checks that the
// error names the file and says what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string_view>

#include "core/error.h"
#include "core/rng.h"
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

// A file whose header is `header` followed by `data_bytes` bytes of data section.
std::string st_bytes(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\x11');
}

// Writes `bytes` to a fresh file, opens it and returns the error message ("" if it opened).
std::string open_error(const std::string& test, const std::string& bytes, std::string* path_out) {
  const fs::path p = duq::test::temp_dir("st_bad_" + test) / "bad.safetensors";
  duq::test::write_bytes(p, bytes);
  *path_out = p.string();
  try {
    TensorStore::open(p);
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

// The error for `bytes` names the file and contains `what`.
void expect_error(const std::string& test, const std::string& bytes, const std::string& what) {
  std::string path;
  const std::string msg = open_error(test, bytes, &path);
  ASSERT_FALSE(msg.empty()) << "opened without error; expected: " << what;
  EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
}

const char* kOk = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

}  // namespace

TEST(SafetensorsMalformed, ControlFileOpens) {
  std::string path;
  EXPECT_EQ(open_error("control", st_bytes(kOk, 8), &path), "");
}

TEST(SafetensorsMalformed, ShorterThan8Bytes) { expect_error("short", "abcde", "too short"); }

TEST(SafetensorsMalformed, EmptyFile) { expect_error("empty", "", "0 bytes, too short"); }

TEST(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  expect_error("hdr_past_end", le64(1000) + "{}", "header length 1000 runs past the end of the file");
}

TEST(SafetensorsMalformed, HeaderLengthAbsurd) {
  expect_error("hdr_absurd", le64(200ull << 20) + "{}", "is absurd");
  expect_error("hdr_huge", le64(~0ull) + "{}", "is absurd");
}

TEST(SafetensorsMalformed, HeaderNotJson) { expect_error("not_json", st_bytes("{\"t\": [1, 2", 0), "not valid JSON"); }

TEST(SafetensorsMalformed, HeaderNotAnObject) {
  expect_error("not_object", st_bytes("[1, 2, 3]", 0), "not a JSON object");
}

TEST(SafetensorsMalformed, EntryNotAnObject) {
  expect_error("entry_not_object", st_bytes(R"({"t":[1]})", 0), "tensor 't': header entry is not an object");
}

TEST(SafetensorsMalformed, MissingDtype) {
  expect_error("no_dtype", st_bytes(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), "tensor 't': missing 'dtype'");
}

TEST(SafetensorsMalformed, MissingShape) {
  expect_error("no_shape", st_bytes(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8), "tensor 't': missing 'shape'");
}

TEST(SafetensorsMalformed, MissingDataOffsets) {
  expect_error("no_offsets", st_bytes(R"({"t":{"dtype":"F32","shape":[2]}})", 8), "tensor 't': missing 'data_offsets'");
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_error("bad_dtype", st_bytes(R"({"t":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", 8),
               "unknown dtype 'Q4_K'");
}

TEST(SafetensorsMalformed, NegativeShape) {
  expect_error("neg_shape", st_bytes(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
               "negative dimension");
}

TEST(SafetensorsMalformed, NonIntegerShape) {
  expect_error("float_shape", st_bytes(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8),
               "non-integer dimension");
}

TEST(SafetensorsMalformed, AbsurdShape) {
  // 2^40 elements: far more than the 8-byte data section could hold, whatever the offsets say.
  expect_error("absurd_shape", st_bytes(R"({"t":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,8]}})", 8),
               "needs 4398046511104 bytes as F32 but the data section holds only 8");
}

TEST(SafetensorsMalformed, ShapeOverflowsElementCount) {
  expect_error("overflow_shape",
               st_bytes(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8),
               "overflows the element count");
}

TEST(SafetensorsMalformed, DataOffsetsPastDataSection) {
  expect_error("offsets_past_end", st_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 8),
               "data_offsets [4, 12] run past the data section of 8 bytes");
}

TEST(SafetensorsMalformed, DataOffsetsBeginAfterEnd) {
  expect_error("begin_gt_end", st_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
               "begin 8 > end 0");
}

TEST(SafetensorsMalformed, DataOffsetsNegative) {
  expect_error("neg_offsets", st_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8),
               "must be two non-negative integers");
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  expect_error("overlap",
               st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        12),
               "tensor 'b' data_offsets [4, 12] overlap tensor 'a'");
}

TEST(SafetensorsMalformed, ByteCountDiffersFromShape) {
  expect_error("bytes_vs_shape", st_bytes(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 12),
               "span 8 bytes but shape [3] as F32 needs 12");
}

TEST(SafetensorsMalformed, HoleBetweenTensors) {
  expect_error("hole",
               st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                        12),
               "bytes [4, 8) before tensor 'b' belong to no tensor");
}

TEST(SafetensorsMalformed, TrailingBytesAfterLastTensor) {
  expect_error("trailing", st_bytes(kOk, 12), "data section is 12 bytes but the tensors cover only 8");
}

TEST(SafetensorsMalformed, MetadataNotStrings) {
  expect_error("meta_not_string",
               st_bytes(R"({"__metadata__":{"format":1},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
               "__metadata__ value for 'format' is not a string");
}

// TensorStore::open(dir) must throw duq::Error whose message contains every one of `parts`.
void expect_open_error(const fs::path& dir, std::initializer_list<std::string_view> parts) {
  try {
    TensorStore::open(dir);
    FAIL() << "opened " << dir;
  } catch (const duq::Error& e) {
    const std::string m = e.what();
    for (std::string_view part : parts) EXPECT_NE(m.find(part), std::string::npos) << m;
  }
}

TEST(SafetensorsMalformed, IndexNamesMissingShard) {
  const fs::path d = duq::test::temp_dir("st_bad_index_shard");
  const std::vector<float> v = {1.f, 2.f};
  write_safetensors(d / "model-00001-of-00002.safetensors", {{"a", DType::F32, {2}, v}});
  duq::test::write_bytes(d / "model.safetensors.index.json", R"({"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                                                             R"("b":"model-00002-of-00002.safetensors"}})");
  expect_open_error(d,
                    {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors' which does not exist"});
}

TEST(SafetensorsMalformed, IndexNamesTensorTheShardLacks) {
  const fs::path d = duq::test::temp_dir("st_bad_index_tensor");
  const std::vector<float> v = {1.f, 2.f};
  write_safetensors(d / "model-00001-of-00001.safetensors", {{"a", DType::F32, {2}, v}});
  duq::test::write_bytes(d / "model.safetensors.index.json", R"({"weight_map":{"a":"model-00001-of-00001.safetensors",)"
                                                             R"("ghost":"model-00001-of-00001.safetensors"}})");
  expect_open_error(
      d, {"model.safetensors.index.json", "tensor 'ghost' should be in shard 'model-00001-of-00001.safetensors'"});
}

TEST(SafetensorsMalformed, IndexWithoutWeightMap) {
  const fs::path d = duq::test::temp_dir("st_bad_index_nomap");
  duq::test::write_bytes(d / "model.safetensors.index.json", R"({"metadata":{}})");
  expect_open_error(d, {"index.json: missing 'weight_map'"});
}

TEST(SafetensorsMalformed, TensorInTwoShards) {
  const fs::path d = duq::test::temp_dir("st_bad_dup_shards");
  const std::vector<float> v = {1.f, 2.f};
  write_safetensors(d / "s1.safetensors", {{"a", DType::F32, {2}, v}});
  write_safetensors(d / "s2.safetensors", {{"a", DType::F32, {2}, v}, {"b", DType::F32, {2}, v}});
  duq::test::write_bytes(d / "model.safetensors.index.json",
                         R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  expect_open_error(d, {"tensor 'a' is also in"});
}

TEST(SafetensorsMalformed, RandomCorruptionsOpenOrThrowCleanly) {
  // Flip bytes of a valid file (mostly in the header) many times: every result either opens with all
  // tensors inside the file or throws duq::Error; under ASan this also proves no out-of-bounds read.
  const fs::path d = duq::test::temp_dir("st_fuzz");
  const std::vector<float> v = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  write_safetensors(d / "ok.safetensors", {{"a", DType::F32, {2, 3}, v}, {"b", DType::BF16, {6}, v}});
  const std::string good = duq::test::read_text(d / "ok.safetensors");
  duq::Rng rng(123);
  int opened = 0;
  for (int iter = 0; iter < 500; ++iter) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng.below(3));
    for (int k = 0; k < flips; ++k) {
      const size_t pos = rng.below(4) == 0 ? rng.below(8) : rng.below(bad.size());
      bad[pos] = static_cast<char>(rng.below(4) == 0 ? "0123456789"[rng.below(10)] : static_cast<char>(rng.below(256)));
    }
    if (rng.below(8) == 0) bad.resize(rng.below(bad.size()));
    const fs::path p = d / "bad.safetensors";
    duq::test::write_bytes(p, bad);
    try {
      const TensorStore s = TensorStore::open(p);
      for (const auto& name : s.names()) {
        const TensorInfo& t = s.get(name);
        ASSERT_LE(t.nbytes, bad.size());
        if (dtype_is_float(t.dtype) && t.shape.size() <= 2) (void)s.to_f32(name);
      }
      ++opened;
    } catch (const duq::Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(opened, 0);  // some flips land in data bytes and leave a valid file
}
