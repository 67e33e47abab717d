#include "serve/openai.h"

#include <cmath>

namespace duq::serve {

using nlohmann::json;

std::string error_body(const std::string& message, const std::string& type, const std::string& param) {
  json e = {
      {"message", message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)}, {"code", nullptr}};
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw ApiError(400, msg, "invalid_request_error", param);
}

double number(const json& j, const char* key, double lo, double hi) {
  const json& v = j[key];
  if (!v.is_number()) bad(key, std::string("'") + key + "' must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(key, std::string("'") + key + "' must be in [" + json(lo).dump() + ", " + json(hi).dump() + "] (got " +
                 v.dump() + ")");
  return x;
}

std::string content_text(const json& c, const std::string& where) {
  if (c.is_string()) return c.get<std::string>();
  // [{"type": "text", "text": …}, …]
  if (c.is_array()) {
    std::string s;
    for (const auto& part : c) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
        bad("messages", where + ": only text content parts are supported");
      s += part["text"].get<std::string>();
    }
    return s;
  }
  bad("messages", where + ".content must be a string");
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body, bool chat, int default_max_tokens) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) bad("", "the request body is not valid JSON");
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string()) bad("model", "'model' must be a string");
    r.model = j["model"];
  }
  if (chat) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      bad("messages", "'messages' must be a non-empty array");
    const auto& ms = j["messages"];
    for (size_t i = 0; i < ms.size(); ++i) {
      const std::string where = "messages[" + std::to_string(i) + "]";
      if (!ms[i].is_object() || !ms[i].contains("role") || !ms[i]["role"].is_string() || !ms[i].contains("content"))
        bad("messages", where + " must be an object with 'role' and 'content'");
      const std::string role = ms[i]["role"], text = content_text(ms[i]["content"], where);
      if (role == "system" || role == "developer") {
        if (i != 0) bad("messages", where + ": a system message must come first");
        r.system = text;
        r.system_given = true;
      } else if (role == "user") {
        if (!r.turns.empty() && r.turns.back().assistant.empty())
          bad("messages", where + ": two user messages in a row");
        r.turns.push_back({text, ""});
      } else if (role == "assistant") {
        if (r.turns.empty() || !r.turns.back().assistant.empty())
          bad("messages", where + ": an assistant message must answer a user message");
        r.turns.back().assistant = text.empty() ? " " : text;
      } else {
        std::string msg = where;
        msg.append(": unknown role '").append(role).append("' (system, user, assistant)");
        bad("messages", msg);
      }
    }
    if (r.turns.empty() || !r.turns.back().assistant.empty()) bad("messages", "the last message must be from the user");
  } else {
    if (!j.contains("prompt")) bad("prompt", "'prompt' is required");
    const json& p = j["prompt"];
    if (p.is_string()) r.prompt = p;
    else if (p.is_array() && p.size() == 1 && p[0].is_string()) r.prompt = p[0];
    else bad("prompt", "'prompt' must be a string (or an array of one string)");
  }
  r.p.max_tokens = default_max_tokens;
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (j.contains(key) && !j[key].is_null()) {
      if (!j[key].is_number_integer()) bad(key, std::string("'") + key + "' must be an integer");
      const long long n = j[key].get<long long>();
      if (n < 1 || n > (1 << 24))
        bad(key, std::string("'") + key + "' must be at least 1 (got " + std::to_string(n) + ")");
      r.p.max_tokens = static_cast<int>(n);
    }
  if (j.contains("temperature") && !j["temperature"].is_null()) {
    r.p.temperature = static_cast<float>(number(j, "temperature", 0, 2));
    if (r.p.temperature > 0 && r.p.temperature < 0.01f) r.p.temperature = 0.01f;  // as generate's lower bound
  }
  if (j.contains("top_p") && !j["top_p"].is_null()) {
    r.p.top_p = static_cast<float>(number(j, "top_p", 0, 1));
    if (r.p.top_p <= 0) bad("top_p", "'top_p' must be greater than 0");
  }
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer()) bad("seed", "'seed' must be an integer");
    r.p.seed =
        j["seed"].is_number_unsigned() ? j["seed"].get<uint64_t>() : static_cast<uint64_t>(j["seed"].get<int64_t>());
  }
  if (j.contains("n") && !j["n"].is_null() && !(j["n"].is_number_integer() && j["n"].get<long long>() == 1))
    bad("n", "only n = 1 is supported");
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& s = j["stop"];
    if (s.is_string()) {
      if (!s.get<std::string>().empty()) r.p.stop.push_back(s);
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or an array of up to 4 strings");
        if (!x.get<std::string>().empty()) r.p.stop.push_back(x);
      }
    } else {
      bad("stop", "'stop' must be a string or an array of up to 4 strings");
    }
  }
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) bad("stream", "'stream' must be true or false");
    r.stream = j["stream"];
  }
  if (j.contains("stream_options") && j["stream_options"].is_object())
    r.include_usage = j["stream_options"].value("include_usage", false);
  return r;
}

std::vector<int> prompt_tokens(CompletionRequest& r, const model::Tokenizer& tok,
                               const std::optional<eval::chat::ChatFormat>& fmt) {
  if (!r.chat) return tok.encode(r.prompt, /*bos=*/true, /*eos=*/false);
  if (!fmt)
    throw ApiError(400,
                   "this server has no chat template: start it with --template (llama-2-chat, vicuna, "
                   "llama-3-instruct, mistral-instruct) or use /v1/completions");
  const std::string system = r.system_given ? r.system : eval::chat::default_system(*fmt);
  r.p.stop.push_back(eval::chat::stop_text(*fmt));
  return eval::chat::encode_chat(tok, eval::chat::render_chat(*fmt, system, r.turns));
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json completion_body(const CompletionRequest& r, const std::string& id, const std::string& model, long created,
                     const std::string& text, const std::string& finish, int prompt_tokens, int completion_tokens) {
  json choice = {{"index", 0}, {"finish_reason", finish}};
  if (r.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  return {{"id", id},
          {"object", r.chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

json stream_chunk(const CompletionRequest& r, const std::string& id, const std::string& model, long created,
                  const std::string& text, const std::string& finish, bool first, const json& usage) {
  json choice = {{"index", 0}, {"finish_reason", finish.empty() ? json(nullptr) : json(finish)}};
  if (r.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (finish.empty() && !first)) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  json j = {{"id", id},
            {"object", r.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", json::array({choice})}};
  if (!usage.is_null()) j["usage"] = usage;
  return j;
}

}  // namespace duq::serve
