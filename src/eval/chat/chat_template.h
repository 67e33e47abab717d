// Chat prompts as FastChat builds them for MT-Bench (fastchat/conversation.py), for four families:
//   llama-2-chat      [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{q1} [/INST] {a1} </s><s>[INST] {q2} [/INST]
//                     (no system: "[INST] {q1} [/INST]…")
//   vicuna (v1.1)     {system} USER: {q1} ASSISTANT: {a1}</s>USER: {q2} ASSISTANT:
//   llama-3-instruct  <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>
//                     <|start_header_id|>user<|end_header_id|>\n\n{q1}<|eot_id|>…<|start_header_id|>assistant<|end_header_id|>\n\n
//   mistral-instruct  [INST] {q1} [/INST] {a1}</s>[INST] {q2} [/INST]
// The first three begin with BOS ("<s>"; llama-3's <|begin_of_text|>). "<s>" and "</s>" inside the prompt
// become the tokenizer's BOS / EOS ids; the text between is encoded piece by piece (as a SentencePiece
// tokenizer does around special tokens). llama-3's header tokens are encoded as text: a tokenizer without
// them sees plain characters.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace duq::eval::chat {

enum class ChatFormat { Llama2, Vicuna, Llama3, Mistral };

// "llama-2-chat" | "vicuna" | "llama-3-instruct" | "mistral-instruct"; anything else throws.
ChatFormat parse_chat_format(const std::string& name);
const char* chat_format_name(ChatFormat f);
// The family of a tokenizer_config.json "chat_template" (Jinja source) when it is one of the four.
std::optional<ChatFormat> detect_chat_format(const std::string& jinja);
// FastChat's default system message of the family ("" for llama-2, mistral, llama-3).
std::string default_system(ChatFormat f);

struct Turn {
  std::string user, assistant;  // assistant "" = the turn the model answers next
};

// The prompt text for `turns` (every turn answered except possibly the last), ending where the model's
// reply begins.
std::string render_chat(ChatFormat f, const std::string& system, const std::vector<Turn>& turns);

// Tokens of a rendered prompt: "<s>" / "<|begin_of_text|>" → BOS, "</s>" → EOS, text between encoded
// without BOS.
std::vector<int> encode_chat(const model::Tokenizer& tok, const std::string& prompt);

// Text that ends the model's reply besides EOS ("<|eot_id|>" for llama-3, "</s>" as text otherwise).
std::string stop_text(ChatFormat f);

}  // namespace duq::eval::chat
