// OpenAI request and response shapes for /v1/completions and /v1/chat/completions (what the server reads
// and writes; no sockets here, so every rule is testable on strings).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/chat/chat_template.h"
#include "model/tokenizer.h"
#include "serve/scheduler.h"

namespace duq::serve {

// A request the server refuses: HTTP status, OpenAI error type ("invalid_request_error", …) and the
// offending parameter ("" if none).
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& msg, std::string type = "invalid_request_error", std::string param = "")
      : std::runtime_error(msg), status(status), type(std::move(type)), param(std::move(param)) {}
  int status;
  std::string type, param;
};
// {"error": {"message", "type", "param", "code"}}
std::string error_body(const std::string& message, const std::string& type, const std::string& param = "");

struct CompletionRequest {
  bool chat = false, stream = false, include_usage = false;
  std::string model;   // "" = not given
  std::string prompt;  // completions
  std::string system;  // chat: the system message ("" = the template's default)
  bool system_given = false;
  std::vector<eval::chat::Turn> turns;  // chat: user/assistant pairs, the last one unanswered
  GenParams p;
};

// Parses a request body (throws ApiError 400 naming the field for malformed JSON, wrong types or values
// out of range). default_max_tokens applies when max_tokens is absent.
CompletionRequest parse_completion_request(const std::string& body, bool chat, int default_max_tokens);

// Prompt tokens: completions as `duquant generate` encodes its prompt (BOS + text); chat through the
// template (and its stop text added to p.stop). Chat without a template: ApiError 400.
std::vector<int> prompt_tokens(CompletionRequest& r, const model::Tokenizer& tok,
                               const std::optional<eval::chat::ChatFormat>& fmt);

// Response bodies. finish: OpenAI's finish_reason ("stop", "length", or "timeout"/"cancelled" when cut).
nlohmann::json completion_body(const CompletionRequest& r, const std::string& id, const std::string& model,
                               long created, const std::string& text, const std::string& finish, int prompt_tokens,
                               int completion_tokens);
// One server-sent-events chunk; finish "" = not finished yet (text may be empty for the first chat chunk,
// which carries the role). usage given only in the last chunk.
nlohmann::json stream_chunk(const CompletionRequest& r, const std::string& id, const std::string& model, long created,
                            const std::string& text, const std::string& finish, bool first,
                            const nlohmann::json& usage = nullptr);
nlohmann::json usage_json(int prompt_tokens, int completion_tokens);

}  // namespace duq::serve
