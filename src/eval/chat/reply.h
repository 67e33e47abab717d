// A model's reply to a chat prompt: prefill the prompt's tokens, then decode until EOS, the template's stop
// text, max_new tokens or the end of the context. A prompt longer than the context keeps its last tokens
// (room left for max_new, at least half the context).
#pragma once
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/forward.h"
#include "model/sampler.h"
#include "model/tokenizer.h"

namespace duq::eval::chat {

using ForwardFn = std::function<Mat(std::span<const int> tokens, int pos0, model::KVCache& cache, bool last_only)>;

struct Reply {
  std::string text;
  int tokens = 0;
  bool prompt_truncated = false;
};

Reply generate_reply(const ForwardFn& fwd, const model::ModelConfig& cfg, const model::Tokenizer& tok,
                     std::vector<int> prompt, int max_new, model::Sampler& sampler, const std::string& stop,
                     const std::function<void(const std::string&)>& on_piece = {});

}  // namespace duq::eval::chat
