// FastChat's MT-Bench prompts for the four chat families, written out by hand from fastchat/conversation.py
// (two turns, the first answered), the family detection from tokenizer_config.json templates, and the
// special-token handling of encode_chat.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/chat/chat_template.h"

namespace duq::eval::chat {
namespace {

const std::vector<Turn> kTwoTurns = {{"Hi?", "Hello."}, {"Bye?", ""}};

TEST(ChatTemplate, Llama2) {
  EXPECT_EQ(render_chat(ChatFormat::Llama2, "Be nice.", kTwoTurns),
            "<s>[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\nHi? [/INST] Hello. </s><s>[INST] Bye? [/INST]");
  EXPECT_EQ(render_chat(ChatFormat::Llama2, "", {{"Hi?", ""}}), "<s>[INST] Hi? [/INST]");
}

TEST(ChatTemplate, Vicuna) {
  EXPECT_EQ(render_chat(ChatFormat::Vicuna, "SYS", kTwoTurns),
            "<s>SYS USER: Hi? ASSISTANT: Hello.</s>USER: Bye? ASSISTANT:");
  EXPECT_EQ(default_system(ChatFormat::Vicuna).substr(0, 60),
            "A chat between a curious user and an artificial intelligence");
}

TEST(ChatTemplate, Llama3) {
  EXPECT_EQ(
      render_chat(ChatFormat::Llama3, "S", kTwoTurns),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello."
      "<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nBye?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(stop_text(ChatFormat::Llama3), "<|eot_id|>");
}

TEST(ChatTemplate, Mistral) {
  EXPECT_EQ(render_chat(ChatFormat::Mistral, "", kTwoTurns), "<s>[INST] Hi? [/INST] Hello.</s>[INST] Bye? [/INST]");
}

TEST(ChatTemplate, DetectFromTokenizerConfigAndNames) {
  EXPECT_EQ(detect_chat_format("{% if messages[0]['role'] == 'system' %}<<SYS>>\\n{% endif %}[INST]"),
            ChatFormat::Llama2);
  EXPECT_EQ(detect_chat_format("{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"),
            ChatFormat::Mistral);
  EXPECT_EQ(detect_chat_format("<|start_header_id|>' + message['role'] + '<|end_header_id|>"), ChatFormat::Llama3);
  EXPECT_EQ(detect_chat_format("{{ 'USER: ' + m }} ASSISTANT:"), ChatFormat::Vicuna);
  EXPECT_FALSE(detect_chat_format("<|im_start|>user").has_value());
  EXPECT_EQ(parse_chat_format("mistral-instruct"), ChatFormat::Mistral);
  EXPECT_THROW(parse_chat_format("chatml"), Error);
}

// One token per byte; BOS 1, EOS 2.
class ByteTokenizer : public model::Tokenizer {
 public:
  std::vector<int> encode(const std::string& t, bool bos, bool) const override {
    std::vector<int> v;
    if (bos) v.push_back(1);
    for (unsigned char c : t) v.push_back(c);
    return v;
  }
  std::string decode(int, int t) const override { return std::string(1, static_cast<char>(t)); }
  int vocab_size() const override { return 256; }
  int bos_id() const override { return 1; }
  int eos_id() const override { return 2; }
};

TEST(ChatTemplate, EncodeMapsSpecialMarkers) {
  ByteTokenizer tok;
  EXPECT_EQ(encode_chat(tok, "<s>ab</s><s>c"), (std::vector<int>{1, 'a', 'b', 2, 1, 'c'}));
  EXPECT_EQ(encode_chat(tok, "<|begin_of_text|>x<"), (std::vector<int>{1, 'x', '<'}));
}

}  // namespace
}  // namespace duq::eval::chat
