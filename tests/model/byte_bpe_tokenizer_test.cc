// Byte-level BPE (tokenizer.json as LLaMA-3 ships it, GGUF "gpt2" vocabularies) on small hand-made
// tokenizer.json files: GPT-2's byte mapping against the table built here from its definition, LLaMA-3's split
// regex, merge order by rank, ignore_merges, added/special tokens and decoding, each against ids worked out by
// hand.
#include <gtest/gtest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/byte_bpe_tokenizer.h"
#include "model/tokenizer.h"
#include "test_support.h"
#include "tokenizer_json_fixture.h"

namespace duq::model {
namespace {

using duq::test::gpt2_byte_codepoints;
using duq::test::tokenizer_json;
using duq::test::utf8;

std::unique_ptr<Tokenizer> make(const std::string& json) { return tokenizer_json_from_bytes(json, "test.json"); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const duq::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ByteBpe, ByteMappingIsGpt2s) {
  const auto cps = gpt2_byte_codepoints();
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_to_unicode(static_cast<unsigned char>(b)), utf8(cps[b])) << b;
  // The well-known ones: space Ġ (U+0120), newline Ċ (U+010A), DEL ġ (U+0121), soft hyphen Ń (U+0143).
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");
  EXPECT_EQ(byte_to_unicode(0x7F), "\xC4\xA1");
  EXPECT_EQ(byte_to_unicode(0xAD), "\xC5\x83");
  EXPECT_EQ(byte_to_unicode('A'), "A");
  EXPECT_EQ(byte_to_unicode(0xE9), "\xC3\xA9");  // é stands for itself
}

TEST(ByteBpe, Llama3SplitRegex) {
  ByteBpeTokenizer tok(parse_tokenizer_json(tokenizer_json({}, {}), "t"), "t");
  // Worked by hand through the alternatives in order (see the pattern): a space before digits or before a
  // run of spaces followed by a letter is a piece of its own; digits go in threes; punctuation takes the
  // newlines after it; the contraction matches case-insensitively.
  EXPECT_EQ(tok.split("Hello world's 12345 !!\n\n  x"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", "123", "45", " !!\n\n", " ", " x"}));
  EXPECT_EQ(tok.split("HE'S"), (std::vector<std::string>{"HE", "'S"}));
  EXPECT_EQ(tok.split("a\n\nb"), (std::vector<std::string>{"a", "\n\n", "b"}));
  EXPECT_EQ(tok.split("(x)"), (std::vector<std::string>{"(x", ")"}));              // [^\r\n\p{L}\p{N}]?\p{L}+ takes "("
  EXPECT_EQ(tok.split("über café"), (std::vector<std::string>{"über", " café"}));  // \p{L} beyond ASCII
}

TEST(ByteBpe, MergesApplyByRank) {
  // ids: 256 "ab", 257 "bc", 258 "abc"; bytes a = 'a' (97), b = 98, c = 99.
  const std::vector<std::string> extra = {"ab", "bc", "abc"};
  // Rank order b+c first: [a, b, c] → [a, bc] → (no "a bc" merge) stays.
  EXPECT_EQ(make(tokenizer_json(extra, {"b c", "a b"}))->encode("abc", false, false), (std::vector<int>{97, 257}));
  // a+b first: [ab, c].
  EXPECT_EQ(make(tokenizer_json(extra, {"a b", "b c"}))->encode("abc", false, false), (std::vector<int>{256, 99}));
  // With a merge to the full word after either path.
  EXPECT_EQ(make(tokenizer_json(extra, {"b c", "a b", "a bc"}))->encode("abc", false, false), (std::vector<int>{258}));
  // The same pair twice: the leftmost merges first ("aaa" → [aa, a], not [a, aa]).
  EXPECT_EQ(make(tokenizer_json({"aa"}, {"a a"}))->encode("aaa", false, false), (std::vector<int>{256, 97}));
}

TEST(ByteBpe, SpaceIsItsByteToken) {
  // Here ids follow byte order, so the space byte's character Ġ is id 32.
  auto tok = make(tokenizer_json({"ab"}, {"a b"}));
  // "ab ab": pieces "ab", " ab" → [ab], [Ġ, a, b] → [Ġ, ab] (no "Ġ ab" merge).
  EXPECT_EQ(tok->encode("ab ab", false, false), (std::vector<int>{256, 32, 256}));
  EXPECT_EQ(tok->decode_all(tok->encode("ab ab", true, false)), "ab ab");
}

TEST(ByteBpe, IgnoreMergesTakesWholeWords) {
  // "abc" is a token but no merge builds it: with ignore_merges (LLaMA-3) the word is that token.
  EXPECT_EQ(make(tokenizer_json({"abc"}, {}, true))->encode("abc", false, false), (std::vector<int>{256}));
  EXPECT_EQ(make(tokenizer_json({"abc"}, {}, false))->encode("abc", false, false), (std::vector<int>{97, 98, 99}));
}

TEST(ByteBpe, SpecialTokensAndDecode) {
  auto tok = make(tokenizer_json({"hi"}, {"h i"}));
  EXPECT_EQ(tok->bos_id(), 1000);  // the template's first special token
  EXPECT_EQ(tok->eos_id(), 1002);
  EXPECT_EQ(tok->vocab_size(), 1003);
  // Added tokens are cut out verbatim, the text around them tokenized as usual.
  EXPECT_EQ(tok->encode("hi<|eot_id|>x", true, false), (std::vector<int>{1000, 256, 1001, 'x'}));
  EXPECT_EQ(tok->encode("<|begin_of_text|>hi", false, false), (std::vector<int>{1000, 256}));
  // A partial special token is plain text: "<|eot" → "<|", "eot" by the regex.
  EXPECT_EQ(tok->encode("<|eot", false, false), (std::vector<int>{'<', '|', 'e', 'o', 't'}));
  EXPECT_EQ(tok->decode(-1, 1001), "");      // control tokens decode to nothing
  EXPECT_EQ(tok->decode(-1, 32), " ");       // Ġ → space
  EXPECT_EQ(tok->decode(-1, 0xE9), "\xE9");  // byte 0xE9's character (é) → the raw byte
  // UTF-8 round trip through bytes: é = C3 A9 → two byte tokens (no merges) → decoded back.
  const auto ids = tok->encode("é", false, false);
  EXPECT_EQ(ids, (std::vector<int>{0xC3, 0xA9}));
  EXPECT_EQ(tok->decode_all(ids), "é");
  // EOS: not named by tokenizer.json; the model's id is passed in (or a known name is used).
  EXPECT_EQ(tokenizer_json_from_bytes(tokenizer_json({}, {}), "t", -1, 1001)->eos_id(), 1001);
}

TEST(ByteBpe, ChosenByExtensionAndRefusesOtherTokenizers) {
  const auto dir = duq::test::temp_dir("byte_bpe_files");
  duq::test::write_bytes(dir / "tokenizer.json", tokenizer_json({"hi"}, {"h i"}));
  auto tok = load_tokenizer((dir / "tokenizer.json").string(), 1000, 1001);
  EXPECT_EQ(tok->encode("hi", true, false), (std::vector<int>{1000, 256}));

  auto json_with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(tokenizer_json({}, {}));
    edit(j);
    return error_of([&] { tokenizer_json_from_bytes(j.dump(), "/m/tokenizer.json"); });
  };
  EXPECT_NE(json_with([](auto& j) { j["model"]["byte_fallback"] = true; }).find("tokenizer.model"), std::string::npos);
  EXPECT_NE(json_with([](auto& j) { j["model"]["type"] = "Unigram"; }).find("'Unigram'"), std::string::npos);
  EXPECT_NE(json_with([](auto& j) {
              j["pre_tokenizer"] = {{"type", "Metaspace"}};
            }).find("'Metaspace'"),
            std::string::npos);
  EXPECT_NE(json_with([](auto& j) { j["normalizer"] = {{"type", "NFC"}}; }).find("'NFC'"), std::string::npos);
  EXPECT_NE(json_with([](auto& j) { j["model"]["merges"] = {"a zz"}; }).find("merge 0"), std::string::npos);
  EXPECT_EQ(json_with([](auto& j) { j["model"]["merges"] = {"a zz"}; }).rfind("/m/tokenizer.json: ", 0), 0u);
  EXPECT_NE(error_of([] { tokenizer_json_from_bytes("{not json", "/m/t.json"); }).find("/m/t.json"), std::string::npos);
}

}  // namespace
}  // namespace duq::model
