// One way for `generate` and `ppl` to run any model file: a float model (llama2.c checkpoint or Hugging
// Face directory), a quantized duquant .gguf through the integer kernels, or the same file with
// simulated quantization (--simulate).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "model/forward.h"
#include "model/tokenizer.h"
#include "tools/model_args.h"

namespace duq::tools {

struct Runner {
  model::ModelConfig cfg;
  std::string kind;  // "float", "integer W4A4 (duquant)", "simulated W4A4 (duquant)"
  std::unique_ptr<model::Tokenizer> tok;
  std::function<Mat(std::span<const int>, int, model::KVCache&, bool)> forward;
  std::shared_ptr<void> keep;  // owns whatever `forward` refers to
};

// exact_rotations: the integer engine's online rotations in fp32 instead of int16 (--exact-rotations).
Runner load_runner(const ModelArgs& a, bool simulate, bool exact_rotations = false);

// The tokenizer file next to / named for a float model, as kind ("llama2c" | "sentencepiece") and bytes,
// for storing inside a quantized model.
std::pair<std::string, std::string> tokenizer_file_for(const ModelArgs& a, const model::ModelConfig& cfg);

}  // namespace duq::tools
