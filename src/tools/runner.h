// One way for `generate` and `ppl` to run any model file: a float model (llama2.c checkpoint or Hugging
// Face directory), a quantized duquant .gguf through the integer kernels, or the same file with
// simulated quantization (--simulate).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "formats/gguf_value.h"
#include "model/forward.h"
#include "model/tokenizer.h"
#include "tools/model_args.h"

namespace duq::tools {

struct Runner {
  model::ModelConfig cfg;
  // Makes room for contexts of n tokens: a no-op within cfg.max_seq_len; beyond it, for models whose
  // max_seq_len is only the training context (cfg.context_extendable, GGUF files), extends it with a warning
  // on stderr; otherwise throws naming `what` (e.g. "--ctx 512").
  void ensure_context(int n, const std::string& what);
  std::function<void(int)> extend;  // rebuilds the model's RoPE table for n positions
  std::string kind;                 // "float", "integer W4A4 (duquant)", "simulated W4A4 (duquant)"
  std::unique_ptr<model::Tokenizer> tok;
  std::function<Mat(std::span<const int>, int, model::KVCache&, bool)> forward;
  // Several sequences' chunks in one pass (Model::forward_batch): logits of each chunk's last token (all
  // its tokens with SeqChunk::all_logits).
  std::function<Mat(std::span<const model::SeqChunk>)> forward_batch;
  std::shared_ptr<void> keep;  // owns whatever `forward` refers to
};

// exact_rotations: the integer engine's online rotations in fp32 instead of int16 (--exact-rotations).
Runner load_runner(const ModelArgs& a, bool simulate, bool exact_rotations = false);

// The tokenizer of a float model as a quantized file stores it: kind and the file's bytes, or for kind "gguf"
// the tokenizer.ggml.* metadata (model::QuantModelData's tokenizer fields).
struct EmbeddedTokenizer {
  std::string kind, bytes;
  std::vector<std::pair<std::string, formats::GgufValue>> kv;
};
EmbeddedTokenizer tokenizer_file_for(const ModelArgs& a, const model::ModelConfig& cfg);

}  // namespace duq::tools
