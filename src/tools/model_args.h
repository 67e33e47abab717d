// Options shared by the commands that load a model: --model, --tokenizer, and how a tokenizer is found
// when --tokenizer is not given.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "model/forward.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace duq::tools {

struct ModelArgs {
  std::string model;
  std::string tokenizer;
  void add(CLI::App& app);
};

// Where a float model's tokenizer is and in which form: kind "llama2c" (tokenizer.bin), "sentencepiece"
// (.model), "tokenizer.json" or "gguf" (a GGUF file's tokenizer.ggml.* metadata).
struct TokenizerLocation {
  std::string kind;
  std::string path;
};
// --tokenizer if given (its form by extension / GGUF magic); else the GGUF model file itself; else
// tokenizer.model / tokenizer.json / tokenizer.bin / tokenizer.gguf inside a model directory, or tokenizer.model /
// tokenizer.bin / tok<vocab>.bin next to a checkpoint. Throws with the places searched.
TokenizerLocation find_tokenizer(const ModelArgs& a, const model::ModelConfig& cfg);

// The tokenizer found by find_tokenizer, checked against the model's vocabulary size.
std::unique_ptr<model::Tokenizer> load_tokenizer_for(const ModelArgs& a, const model::ModelConfig& cfg);

// The files this model argument reads, for the output checks (core/file_checks.h): the model (a directory
// counts with its files), --tokenizer, and the tokenizer files that would be found next to a checkpoint.
std::vector<std::string> model_input_paths(const ModelArgs& a);

// tok.encode(text, bos=true), but for a text over 16 MB only its first `n` tokens (all when there are fewer):
// a prefix of the text cut at whitespace is tokenized, grown until it yields a margin of tokens beyond `n` —
// the margin keeps the tokens before the cut identical to those of the whole text.
std::vector<int> encode_prefix(const model::Tokenizer& tok, const std::string& text, size_t n);

// Lets a float model run contexts of n tokens when its limit is only a training context (GGUF
// context_length): raises it with a warning naming `what` (e.g. "--calib-ctx 256"). Otherwise does nothing,
// and the command's own check refuses a context that is too long.
void allow_context(model::WeightSource& src, int n, const std::string& what);

// Reads a text file (error names it); an empty file is an error.
std::string read_text_file(const std::string& path);

}  // namespace duq::tools
