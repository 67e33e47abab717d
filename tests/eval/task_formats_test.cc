// Each task format: a handful of items written for the test, loaded, and their prompts compared with
// strings written out by hand from lm-evaluation-harness's task configs (delimiter, preprocessing, gold).
// Malformed files (missing fields, labels out of range, empty files) must name the file and line.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/tasks/task.h"
#include "expect_error.h"
#include "test_support.h"

namespace duq::eval::tasks {
namespace {

namespace fs = std::filesystem;
using test::write_bytes;

fs::path fixture(const std::string& dir, const std::string& name, const std::string& text) {
  fs::path d = test::temp_dir("tasks_" + dir);
  write_bytes(d / name, text);
  return d / name;
}

TEST(TaskFormats, PiqaPromptChoicesAndLabels) {
  auto dir = test::temp_dir("tasks_piqa");
  write_bytes(dir / "valid.jsonl",
              "{\"goal\": \"Open a jar\", \"sol1\": \"twist the lid \", \"sol2\": \"hit it\"}\n"
              "\n"  // blank lines are skipped
              "{\"goal\": \"dresser\", \"sol1\": \"a\", \"sol2\": \"b\"}\n");
  write_bytes(dir / "valid-labels.lst", "1\n0\n");
  Task t = load_task("piqa", dir);
  ASSERT_EQ(t.docs.size(), 2u);
  EXPECT_TRUE(t.acc_norm);
  const Doc& d = t.docs[0];
  EXPECT_EQ(d.contexts, (std::vector<std::string>{"Question: Open a jar\nAnswer:", "Question: Open a jar\nAnswer:"}));
  // Target delimiter " "; the choice's own trailing space is kept.
  EXPECT_EQ(d.continuations, (std::vector<std::string>{" twist the lid ", " hit it"}));
  EXPECT_EQ(d.choices, (std::vector<std::string>{"twist the lid ", "hit it"}));
  EXPECT_EQ(d.gold, 1);
  EXPECT_EQ(t.docs[1].gold, 0);
  EXPECT_EQ(t.docs[1].id, 1);
}

TEST(TaskFormats, PiqaMalformed) {
  auto dir = test::temp_dir("tasks_piqa_bad");
  write_bytes(dir / "valid.jsonl",
              "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"goal\": \"g\", \"sol1\": \"a\"}\n");
  write_bytes(dir / "valid-labels.lst", "0\n1\n");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "valid.jsonl:2: missing field 'sol2'");
  write_bytes(
      dir / "valid.jsonl",
      "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n");
  write_bytes(dir / "valid-labels.lst", "0\n2\n");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "valid-labels.lst:2: label 2 is out of range");
  write_bytes(dir / "valid-labels.lst", "0\n");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "has 1 labels");
  write_bytes(dir / "valid-labels.lst", "0\n1\n1\n");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "has 3 labels but");
  write_bytes(dir / "valid.jsonl", "");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "valid.jsonl: task file is empty");
  write_bytes(dir / "valid.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\nnot json\n");
  EXPECT_ERROR_HAS(load_task("piqa", dir), "valid.jsonl:2: not valid JSON");
  EXPECT_ERROR_HAS(load_task("piqa", dir / "nope"), "not found");
}

TEST(TaskFormats, ArcLettersAndDigitLabels) {
  auto p = fixture(
      "arc", "ARC-Easy-Test.jsonl",
      R"({"id": "x1", "question": {"stem": "Which is a metal?", "choices": [{"text": "iron", "label": "A"}, {"text": "wood", "label": "B"}, {"text": "glass", "label": "C"}]}, "answerKey": "A"})"
      "\n"
      R"({"id": "x2", "question": {"stem": "Pick two", "choices": [{"text": "one", "label": "1"}, {"text": "two", "label": "2"}, {"text": "three", "label": "3"}, {"text": "four", "label": "4"}]}, "answerKey": "2"})"
      "\n");
  Task t = load_task("arc_easy", p.parent_path());
  ASSERT_EQ(t.docs.size(), 2u);
  EXPECT_EQ(t.docs[0].contexts[0], "Question: Which is a metal?\nAnswer:");
  EXPECT_EQ(t.docs[0].continuations, (std::vector<std::string>{" iron", " wood", " glass"}));
  EXPECT_EQ(t.docs[0].gold, 0);
  EXPECT_EQ(t.docs[1].continuations.size(), 4u);
  EXPECT_EQ(t.docs[1].gold, 1);
  write_bytes(p, R"({"question": {"stem": "s", "choices": [{"text": "a", "label": "A"}]}, "answerKey": "E"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("arc_easy", p), "ARC-Easy-Test.jsonl:1: answerKey 'E' is not the label");
  write_bytes(p, R"({"question": {"choices": [{"text": "a", "label": "A"}]}, "answerKey": "A"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("arc_challenge", p), ":1: missing field 'stem'");
}

TEST(TaskFormats, HellaswagPreprocessing) {
  // lm-eval: preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()), endings preprocessed.
  auto p = fixture(
      "hellaswag", "hellaswag_val.jsonl",
      R"({"activity_label": "Home and Garden", "ctx_a": "  A man [header] holds a rake.", "ctx_b": "he RAKES the leaves", "endings": ["into a pile [title] Then  he rests.", " [step] walks away."], "label": 1})"
      "\n");
  Task t = load_task("hellaswag", p);
  ASSERT_EQ(t.docs.size(), 1u);
  // "Home and Garden:   A man [header] holds a rake. He rakes the leaves" → strip (nothing at the ends),
  // drop "[header]" → "A man  holds" → "  " → " " once per pair ("   A" → "  A").
  EXPECT_EQ(t.docs[0].contexts[0], "Home and Garden:  A man holds a rake. He rakes the leaves");
  // " [title]" → ". ", then "  " → " ": "into a pile.  Then  he rests." → "into a pile. Then he rests.";
  // the strip comes before the bracket removal, so " [step] walks away." keeps one leading space.
  EXPECT_EQ(t.docs[0].continuations, (std::vector<std::string>{" into a pile. Then he rests.", "  walks away."}));
  EXPECT_EQ(t.docs[0].gold, 1);
  EXPECT_EQ(hellaswag_preprocess("a [b] [c]d"), "a d");
  EXPECT_EQ(py_capitalize("hELLO World"), "Hello world");
  write_bytes(p, R"({"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y"], "label": 2})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("hellaswag", p), "hellaswag_val.jsonl:1: label 2 is out of range");
}

TEST(TaskFormats, WinograndePartialScoring) {
  auto p = fixture(
      "winogrande", "dev.jsonl",
      R"({"sentence": "Sarah was a better cook than Maria because _ took  classes. ", "option1": "Sarah", "option2": "Maria", "answer": "1"})"
      "\n"
      R"({"sentence": "The cup fell off the _.", "option1": "table", "option2": "cat", "answer": "2"})"
      "\n");
  Task t = load_task("winogrande", p);
  ASSERT_EQ(t.docs.size(), 2u);
  EXPECT_FALSE(t.acc_norm);
  // Contexts: the sentence up to the blank with each option; continuation " " + the rest, stripped.
  EXPECT_EQ(t.docs[0].contexts, (std::vector<std::string>{"Sarah was a better cook than Maria because Sarah",
                                                          "Sarah was a better cook than Maria because Maria"}));
  EXPECT_EQ(t.docs[0].continuations, (std::vector<std::string>{" took  classes.", " took  classes."}));
  EXPECT_EQ(t.docs[0].gold, 0);
  EXPECT_EQ(t.docs[1].contexts[1], "The cup fell off the cat");
  EXPECT_EQ(t.docs[1].continuations[1], " .");
  EXPECT_EQ(t.docs[1].gold, 1);
  write_bytes(p, R"({"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("winogrande", p), "dev.jsonl:1: field 'sentence' has no '_' blank");
  write_bytes(p, R"({"sentence": "a _ b", "option1": "a", "option2": "b", "answer": "3"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("winogrande", p), "dev.jsonl:1: answer 3 is out of range");
}

TEST(TaskFormats, BoolqPassageQuestion) {
  auto p = fixture("boolq", "val.jsonl",
                   R"({"question": "is the sky blue", "passage": "The sky is blue.", "idx": 0, "label": true})"
                   "\n"
                   R"({"question": "is it", "passage": "No.", "idx": 1, "label": false})"
                   "\n");
  Task t = load_task("boolq", p);
  ASSERT_EQ(t.docs.size(), 2u);
  EXPECT_EQ(t.docs[0].contexts[0], "The sky is blue.\nQuestion: is the sky blue?\nAnswer:");
  EXPECT_EQ(t.docs[0].continuations, (std::vector<std::string>{" no", " yes"}));
  EXPECT_EQ(t.docs[0].gold, 1);
  EXPECT_EQ(t.docs[1].gold, 0);
  write_bytes(p, R"({"question": "q", "passage": "p"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("boolq", p), "val.jsonl:1: missing field 'label'");
}

TEST(TaskFormats, LambadaLastWord) {
  auto p = fixture("lambada", "lambada_test.jsonl",
                   R"({"text": "he looked at the  old dog"})"
                   "\n");
  Task t = load_task("lambada", p);
  ASSERT_EQ(t.docs.size(), 1u);
  EXPECT_EQ(t.kind, Kind::Lambada);
  // split(" ") keeps the empty word of a double space; target delimiter "".
  EXPECT_EQ(t.docs[0].contexts[0], "he looked at the  old");
  EXPECT_EQ(t.docs[0].continuations[0], " dog");
  write_bytes(p, R"({"text": "oneword"})"
                 "\n");
  EXPECT_ERROR_HAS(load_task("lambada", p), "lambada_test.jsonl:1: field 'text' needs at least two");
}

TEST(TaskFormats, MmluFiveShotPrompt) {
  auto dir = test::temp_dir("tasks_mmlu");
  fs::create_directories(dir / "dev");
  fs::create_directories(dir / "test");
  std::string dev;
  for (int i = 0; i < 6; ++i)
    dev += "Q" + std::to_string(i) + ",a,b,c,d," + std::string(1, static_cast<char>('A' + i % 4)) + "\n";
  write_bytes(dir / "dev" / "college_physics_dev.csv", dev);
  write_bytes(dir / "test" / "college_physics_test.csv",
              "\" What, \"\"exactly\"\"?\n \",1,2,3,4,C\nSecond,w,x,y,z,D\n");
  Task t = load_task("mmlu", dir);
  ASSERT_EQ(t.docs.size(), 2u);
  std::string want = "The following are multiple choice questions (with answers) about college physics.\n\n";
  for (int i = 0; i < 5; ++i)
    want += "Q" + std::to_string(i) +
            "\nA. a\nB. b\nC. c\nD. d\nAnswer: " + std::string(1, static_cast<char>('A' + i % 4)) + "\n\n";
  want += "What, \"exactly\"?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:";
  EXPECT_EQ(t.docs[0].contexts[0], want);
  EXPECT_EQ(t.docs[0].continuations, (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(t.docs[0].gold, 2);
  EXPECT_EQ(t.docs[1].gold, 3);
  EXPECT_EQ(t.docs[0].group, "college_physics");
  EXPECT_EQ(mmlu_category("college_physics"), "stem");
  EXPECT_EQ(mmlu_category("world_religions"), "humanities");
  Task zero = load_mmlu(dir, 0);
  EXPECT_EQ(zero.docs[1].contexts[0],
            "The following are multiple choice questions (with answers) about college physics.\n\nSecond\nA. w\nB. "
            "x\nC. y\nD. z\nAnswer:");
  write_bytes(dir / "test" / "college_physics_test.csv", "q,a,b,c,d,A\nq,a,b,c,d,E\n");
  EXPECT_ERROR_HAS(load_task("mmlu", dir), "college_physics_test.csv:2: answer 'E' is out of range");
  write_bytes(dir / "test" / "college_physics_test.csv", "q,a,b,c,A\n");
  EXPECT_ERROR_HAS(load_task("mmlu", dir), "college_physics_test.csv:1: expected 6 fields");
  write_bytes(dir / "dev" / "college_physics_dev.csv", "q,a,b,c,d,A\n");
  write_bytes(dir / "test" / "college_physics_test.csv", "q,a,b,c,d,A\n");
  EXPECT_ERROR_HAS(load_task("mmlu", dir), "has 1 examples; 5-shot needs 5");
}

}  // namespace
}  // namespace duq::eval::tasks
