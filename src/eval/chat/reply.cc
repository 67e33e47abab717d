#include "eval/chat/reply.h"

#include <algorithm>

#include "core/error.h"

namespace duq::eval::chat {

Reply generate_reply(const ForwardFn& fwd, const model::ModelConfig& cfg, const model::Tokenizer& tok,
                     std::vector<int> prompt, int max_new, model::Sampler& sampler, const std::string& stop,
                     const std::function<void(const std::string&)>& on_piece) {
  if (max_new < 1) fail("--max-tokens must be at least 1 (got ", max_new, ")");
  if (prompt.empty()) prompt.push_back(tok.bos_id());
  Reply r;
  const int cap = cfg.max_seq_len;
  const int keep = std::max(1, cap - std::min(max_new, cap / 2));
  if (static_cast<int>(prompt.size()) > keep) {
    prompt.erase(prompt.begin(), prompt.end() - keep);
    r.prompt_truncated = true;
  }
  const int n = static_cast<int>(prompt.size());
  // Sized to the positions this reply can use, not to max_position_embeddings (which may be millions).
  model::KVCache cache(cfg, std::min(cap, n + max_new));
  if (n > 1) fwd({prompt.data(), static_cast<size_t>(n - 1)}, 0, cache, true);
  int token = prompt.back();
  for (int pos = n - 1; pos < cap && r.tokens < max_new; ++pos) {
    Mat logits = fwd({&token, 1}, pos, cache, true);
    const int next = sampler.sample(logits.flat());
    if (next == tok.eos_id() || next == tok.bos_id() || cfg.is_eos(next)) break;  // LLaMA-3.1: <|eot_id|> too
    const std::string piece = tok.decode(token, next);
    r.text += piece;
    ++r.tokens;
    token = next;
    if (!stop.empty() && r.text.size() >= stop.size() && r.text.ends_with(stop)) {
      r.text.resize(r.text.size() - stop.size());
      break;
    }
    if (on_piece) on_piece(piece);
  }
  // FastChat strips the reply.
  const size_t b = r.text.find_first_not_of(" \n\t\r");
  r.text = b == std::string::npos ? "" : r.text.substr(b, r.text.find_last_not_of(" \n\t\r") - b + 1);
  return r;
}

}  // namespace duq::eval::chat
