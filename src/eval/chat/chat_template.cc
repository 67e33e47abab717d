#include "eval/chat/chat_template.h"

#include "core/error.h"

namespace duq::eval::chat {

ChatFormat parse_chat_format(const std::string& name) {
  if (name == "llama-2-chat") return ChatFormat::Llama2;
  if (name == "vicuna") return ChatFormat::Vicuna;
  if (name == "llama-3-instruct") return ChatFormat::Llama3;
  if (name == "mistral-instruct") return ChatFormat::Mistral;
  fail("--template: unknown chat template '", name, "' (llama-2-chat, vicuna, llama-3-instruct, mistral-instruct)");
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::Llama2: return "llama-2-chat";
    case ChatFormat::Vicuna: return "vicuna";
    case ChatFormat::Llama3: return "llama-3-instruct";
    case ChatFormat::Mistral: return "mistral-instruct";
  }
  return "?";
}

std::optional<ChatFormat> detect_chat_format(const std::string& j) {
  if (j.find("<|start_header_id|>") != std::string::npos) return ChatFormat::Llama3;
  if (j.find("<<SYS>>") != std::string::npos) return ChatFormat::Llama2;
  if (j.find("[INST]") != std::string::npos) return ChatFormat::Mistral;
  if (j.find("USER:") != std::string::npos && j.find("ASSISTANT:") != std::string::npos) return ChatFormat::Vicuna;
  return std::nullopt;
}

std::string default_system(ChatFormat f) {
  if (f == ChatFormat::Vicuna)
    return "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
           "detailed, and polite answers to the user's questions.";
  return "";
}

std::string render_chat(ChatFormat f, const std::string& system, const std::vector<Turn>& turns) {
  std::string r;
  switch (f) {
    case ChatFormat::Vicuna:  // SeparatorStyle.ADD_COLON_TWO, sep " ", sep2 "</s>"
      r = "<s>" + system + " ";
      for (const auto& t : turns) {
        r += "USER: " + t.user + " ";
        r += t.assistant.empty() ? "ASSISTANT:" : "ASSISTANT: " + t.assistant + "</s>";
      }
      return r;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral: {  // SeparatorStyle.LLAMA2
      const bool l2 = f == ChatFormat::Llama2;
      const std::string sep2 = l2 ? " </s><s>" : "</s>";
      r = "<s>";
      if (!system.empty()) r += l2 ? "[INST] <<SYS>>\n" + system + "\n<</SYS>>\n\n" : "[INST] " + system + "\n";
      else r += "[INST] ";
      for (size_t i = 0; i < turns.size(); ++i) {
        r += (i == 0 ? turns[i].user + " " : "[INST] " + turns[i].user + " ");
        r += "[/INST]";
        if (!turns[i].assistant.empty()) r += " " + turns[i].assistant + sep2;
      }
      return r;
    }
    case ChatFormat::Llama3:
      r = "<|begin_of_text|>";
      if (!system.empty()) r += "<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>";
      for (const auto& t : turns) {
        r += "<|start_header_id|>user<|end_header_id|>\n\n" + t.user + "<|eot_id|>";
        r += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        if (!t.assistant.empty()) r += t.assistant + "<|eot_id|>";
      }
      return r;
  }
  fail("unknown chat format");
}

std::vector<int> encode_chat(const model::Tokenizer& tok, const std::string& prompt) {
  std::vector<int> out;
  size_t i = 0;
  std::string text;
  auto flush = [&] {
    if (text.empty()) return;
    auto t = tok.encode(text, false, false);
    out.insert(out.end(), t.begin(), t.end());
    text.clear();
  };
  while (i < prompt.size()) {
    struct Mark {
      const char* s;
      int id;
    };
    bool hit = false;
    for (Mark m : {Mark{"<s>", tok.bos_id()}, Mark{"</s>", tok.eos_id()}, Mark{"<|begin_of_text|>", tok.bos_id()}}) {
      const std::string s = m.s;
      if (prompt.compare(i, s.size(), s) == 0) {
        flush();
        out.push_back(m.id);
        i += s.size();
        hit = true;
        break;
      }
    }
    if (!hit) text += prompt[i++];
  }
  flush();
  return out;
}

std::string stop_text(ChatFormat f) { return f == ChatFormat::Llama3 ? "<|eot_id|>" : "</s>"; }

}  // namespace duq::eval::chat
