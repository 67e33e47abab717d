// The evaluation text as the DuQuant / GPTQ / OmniQuant scripts build it from Hugging Face datasets, from
// local files (no downloads):
//   raw       the file as it is (default)
//   hf-lines  WikiText-2: "\n\n".join(test['text']). The rows are read from a JSONL export of the dataset
//             ({"text": …} per line, e.g. datasets' to_json) or, for any other file, reconstructed from
//             the raw wiki.test.raw the way the dataset builder splits it: each line with its "\n" kept,
//             blank lines as "".
//   c4        C4: " ".join(validation[:1100]['text']) from the validation shard's JSONL
//             (c4-validation.00000-of-00008.json); the caller evaluates its first 256 windows.
#pragma once
#include <string>

namespace duq::eval {

enum class DatasetFormat { Raw, HfLines, C4 };

DatasetFormat parse_dataset_format(const std::string& name);  // "raw" | "hf-lines" | "c4"

// The text to tokenize (once, with BOS) for `path` in `fmt`. Errors name the file (and line).
std::string dataset_text(const std::string& path, DatasetFormat fmt);

// The windows the authors' C4 evaluation scores.
constexpr int kC4Windows = 256;
constexpr int kC4Documents = 1100;

}  // namespace duq::eval
