// Zero-shot / few-shot evaluation tasks with lm-evaluation-harness's prompts (v0.4 task configs).
// A document becomes one loglikelihood request per choice, (context_i, continuation_i):
//   multiple choice  contexts all equal (the question), continuations = target_delimiter + choice
//   winogrande       "partial scoring": contexts = the sentence up to the blank filled with each option,
//                    one shared continuation = " " + the rest of the sentence after the blank
//   lambada          one request: the text without its last word, continuation " " + last word
// Each loader reads a dataset in its public release format and states the prompt it builds.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace duq::eval::tasks {

enum class Kind { MultipleChoice, Lambada };

struct Doc {
  long id = 0;                             // index in the file (lm-eval's doc_id)
  std::vector<std::string> contexts;       // one per choice
  std::vector<std::string> continuations;  // one per choice
  std::vector<std::string> choices;        // the answer texts as acc_norm measures them (character length)
  int gold = 0;                            // index of the correct choice
  std::string group;                       // MMLU subject ("" elsewhere)
};

struct Task {
  std::string name;
  Kind kind = Kind::MultipleChoice;
  bool acc_norm = false;  // report acc_norm (lm-eval: piqa, arc, hellaswag; not boolq / winogrande / mmlu)
  std::vector<Doc> docs;
};

// Names `eval --task` accepts, in the order of --help.
const std::vector<std::string>& task_names();

// Loads task `name` from `path` (a file, or a directory holding the release's usual file names; see
// README "Evaluation tasks"); mmlu_shots: MMLU's few-shot count. Malformed input throws duq::Error naming the file and
// line.
Task load_task(const std::string& name, const std::filesystem::path& path, int mmlu_shots = 5);

// The loaders, one per format (each file's public release layout).
Task load_piqa(const std::filesystem::path& jsonl, const std::filesystem::path& labels);
Task load_arc(const std::string& name, const std::filesystem::path& jsonl);
Task load_hellaswag(const std::filesystem::path& jsonl);
Task load_winogrande(const std::filesystem::path& jsonl);
Task load_boolq(const std::filesystem::path& jsonl);
Task load_lambada(const std::filesystem::path& jsonl);
Task load_mmlu(const std::filesystem::path& dir, int shots = 5);

// lm-eval's HellaSwag clean-up: strip, " [title]" → ". ", drop "[...]", "  " → " " (one pass).
std::string hellaswag_preprocess(const std::string& text);
// Python's str.capitalize() for ASCII text: first character upper case, the rest lower case.
std::string py_capitalize(const std::string& s);

// MMLU's category of a subject ("stem", "humanities", "social_sciences", "other"); "other" if unknown.
std::string mmlu_category(const std::string& subject);

}  // namespace duq::eval::tasks
