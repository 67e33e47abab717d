// Options shared by the commands that load a model: --model, --tokenizer, and how a tokenizer is found
// when --tokenizer is not given.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "model/forward.h"
#include "model/tokenizer.h"

namespace duq::tools {

struct ModelArgs {
  std::string model;
  std::string tokenizer;
  void add(CLI::App& app);
};

// The tokenizer: --tokenizer if given; else tokenizer.model / tokenizer.bin inside a model directory, or
// tokenizer.bin / tok<vocab>.bin next to a checkpoint. Throws with the places searched.
std::unique_ptr<model::Tokenizer> load_tokenizer_for(const ModelArgs& a, const model::ModelConfig& cfg);

// Reads a text file (error names it); an empty file is an error.
std::string read_text_file(const std::string& path);

}  // namespace duq::tools
