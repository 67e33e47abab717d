// JSON files: errors name the file, the parse position and missing or mistyped fields.
#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/json_file.h"
#include "test_support.h"

using namespace duq::formats;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(JsonFile, MissingFileNamesThePath) {
  const auto p = duq::test::temp_dir("json_missing") / "config.json";
  const std::string m = error_of([&] { read_json_file(p); });
  EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  EXPECT_NE(m.find("not found"), std::string::npos) << m;
}

TEST(JsonFile, ParseErrorGivesFileAndPosition) {
  const auto p = duq::test::temp_dir("json_bad") / "config.json";
  duq::test::write_bytes(p, "{\n  \"a\": 1,\n  \"b\": ]\n}\n");
  const std::string m = error_of([&] { read_json_file(p); });
  EXPECT_NE(m.find(p.string()), std::string::npos) << m;
  EXPECT_NE(m.find("invalid JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
  EXPECT_EQ(m.find("[json.exception"), std::string::npos) << m;
}

TEST(JsonFile, FieldHelpers) {
  const auto j =
      parse_json(R"({"n": 32, "f": 4096.0, "x": 1e-5, "s": "llama", "b": true, "z": null, "h": 2.5})", "t.json");
  EXPECT_EQ(json_int(j, "n", "t.json"), 32);
  EXPECT_EQ(json_int(j, "f", "t.json"), 4096);  // integral float accepted
  EXPECT_DOUBLE_EQ(json_float(j, "x", "t.json"), 1e-5);
  EXPECT_DOUBLE_EQ(json_float(j, "n", "t.json"), 32.0);
  EXPECT_EQ(json_string(j, "s", "t.json"), "llama");
  EXPECT_TRUE(json_bool(j, "b", "t.json"));
  EXPECT_FALSE(json_opt_int(j, "z", "t.json").has_value());  // null counts as absent
  EXPECT_FALSE(json_opt_int(j, "absent", "t.json").has_value());
  EXPECT_EQ(json_opt_string(j, "s", "t.json"), "llama");

  EXPECT_EQ(error_of([&] { json_int(j, "num_attention_heads", "config.json"); }),
            "config.json: missing field 'num_attention_heads'");
  EXPECT_EQ(error_of([&] { json_int(j, "h", "config.json"); }), "config.json: field 'h' must be an integer (got 2.5)");
  EXPECT_EQ(error_of([&] { json_int(j, "s", "config.json"); }),
            "config.json: field 's' must be an integer (got \"llama\")");
  EXPECT_EQ(error_of([&] { json_opt_bool(j, "n", "config.json"); }),
            "config.json: field 'n' must be true or false (got 32)");
  EXPECT_NE(error_of([&] { json_string(j, "z", "config.json"); }).find("missing field 'z'"), std::string::npos);
}
