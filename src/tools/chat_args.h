// Which chat template a model uses: --template, else the "chat_template" of tokenizer_config.json in the
// model's folder (chat, answer, serve).
#pragma once
#include <optional>
#include <string>

#include "eval/chat/chat_template.h"

namespace duq::tools {

// The family of tokenizer_config.json's chat_template next to the model (in its folder for a directory);
// nullopt when there is no such file or it has no chat_template; throws when it is not JSON or the template
// is none of the four families.
std::optional<eval::chat::ChatFormat> model_chat_format(const std::string& model_path);
// `tmpl` when given, else model_chat_format; throws "no chat template: pass --template …" when neither.
eval::chat::ChatFormat chat_format_for(const std::string& tmpl, const std::string& model_path);

}  // namespace duq::tools
