#include "tools/chat_args.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace duq::tools {

namespace fs = std::filesystem;
namespace ch = eval::chat;

std::optional<ch::ChatFormat> model_chat_format(const std::string& model_path) {
  const fs::path m(model_path);
  const fs::path cfg = (fs::is_directory(m) ? m : m.parent_path()) / "tokenizer_config.json";
  if (!fs::exists(cfg)) return std::nullopt;
  std::ifstream f(cfg);
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) fail(cfg.string(), ": not valid JSON");
  std::string src;
  if (j.contains("chat_template") && j["chat_template"].is_string()) src = j["chat_template"];
  if (j.contains("chat_template") && j["chat_template"].is_array())  // [{"name": "default", "template": …}]
    for (auto& t : j["chat_template"])
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        src = t["template"];
  if (src.empty()) return std::nullopt;
  if (auto f2 = ch::detect_chat_format(src)) return *f2;
  fail(cfg.string(),
       ": chat_template is none of llama-2-chat, vicuna, llama-3-instruct, mistral-instruct; pass --template");
}

ch::ChatFormat chat_format_for(const std::string& tmpl, const std::string& model_path) {
  if (!tmpl.empty()) return ch::parse_chat_format(tmpl);
  if (auto f = model_chat_format(model_path)) return *f;
  fail("no chat template: pass --template (llama-2-chat, vicuna, llama-3-instruct, mistral-instruct)");
}

}  // namespace duq::tools
