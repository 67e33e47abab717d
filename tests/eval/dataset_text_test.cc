// The paper scripts' dataset text: WikiText-2 rows joined with "\n\n" (rows = the raw file's lines with
// their "\n", blank lines as ""), C4's first 1100 validation documents joined with " ". Expected strings
// are written out by hand.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/dataset_text.h"
#include "test_support.h"

namespace duq::eval {
namespace {

TEST(DatasetText, HfLinesFromTheRawFile) {
  auto d = test::temp_dir("dataset_text");
  test::write_bytes(d / "wiki.test.raw", " = T = \n  \n a b\n");
  // rows: " = T = \n", "", " a b\n"
  EXPECT_EQ(dataset_text((d / "wiki.test.raw").string(), DatasetFormat::HfLines), " = T = \n\n\n\n\n a b\n");
  EXPECT_EQ(dataset_text((d / "wiki.test.raw").string(), DatasetFormat::Raw), " = T = \n  \n a b\n");
}

TEST(DatasetText, HfLinesFromJsonRows) {
  auto d = test::temp_dir("dataset_text_json");
  test::write_bytes(d / "test.jsonl", "{\"text\": \"x\\n\"}\n{\"text\": \"\"}\n{\"text\": \"y\"}\n");
  EXPECT_EQ(dataset_text((d / "test.jsonl").string(), DatasetFormat::HfLines), "x\n\n\n\n\ny");
  test::write_bytes(d / "bad.jsonl", "{\"text\": \"x\"}\n{\"txt\": \"y\"}\n");
  try {
    dataset_text((d / "bad.jsonl").string(), DatasetFormat::HfLines);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2: missing field 'text'"), std::string::npos) << e.what();
  }
}

TEST(DatasetText, C4JoinsTheFirst1100Documents) {
  auto d = test::temp_dir("dataset_text_c4");
  std::string s;
  for (int i = 0; i < 1102; ++i) s += "{\"text\": \"d" + std::to_string(i) + "\", \"url\": \"u\"}\n";
  test::write_bytes(d / "c4-validation.00000-of-00008.json", s);
  const std::string t = dataset_text((d / "c4-validation.00000-of-00008.json").string(), DatasetFormat::C4);
  EXPECT_EQ(t.substr(0, 9), "d0 d1 d2 ");
  EXPECT_TRUE(t.ends_with(" d1098 d1099")) << t.substr(t.size() - 20);
  EXPECT_EQ(kC4Windows, 256);
  EXPECT_THROW(dataset_text((d / "c4-validation.00000-of-00008.json").string() + ".txt", DatasetFormat::C4), Error);
  EXPECT_THROW(parse_dataset_format("wiki"), Error);
}

}  // namespace
}  // namespace duq::eval
