// SentencePiece tokenizer on the LLaMA 2 tokenizer.model, checked against the same vocabulary exported
// independently by llama2.c to tokenizer.bin, and against libsentencepiece's own whole-sequence decode.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "model/sp_tokenizer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using duq::model::Tokenizer;

namespace {

fs::path llama2_dir() { return duq::test::assets_dir() / "tokenizers" / "llama2"; }

// tokenizer.bin (llama2.c export): i32 max_token_length, then per token f32 score, i32 len, len bytes,
// with "▁" already turned into ' '. Read here on its own, not through the project's loader.
std::vector<std::string> read_tokenizer_bin(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  int32_t max_len = 0;
  f.read(reinterpret_cast<char*>(&max_len), 4);
  std::vector<std::string> pieces;
  while (true) {
    float score;
    int32_t len;
    if (!f.read(reinterpret_cast<char*>(&score), 4) || !f.read(reinterpret_cast<char*>(&len), 4)) break;
    std::string s(static_cast<size_t>(len), '\0');
    f.read(s.data(), len);
    pieces.push_back(s);
  }
  return pieces;
}

std::string concat_decode(const Tokenizer& t, const std::vector<int>& ids) {
  std::string out;
  int prev = -1;
  for (int id : ids) {
    out += t.decode(prev, id);
    prev = id;
  }
  return out;
}

class SpTokenizerModel : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = llama2_dir() / "tokenizer.model";
    if (!fs::exists(path_)) GTEST_SKIP() << "no " << path_;
    tok_ = duq::model::load_sentencepiece_tokenizer(path_.string());
  }
  fs::path path_;
  std::unique_ptr<Tokenizer> tok_;
};

}  // namespace

TEST_F(SpTokenizerModel, VocabularyAndSpecialIds) {
  EXPECT_EQ(tok_->vocab_size(), 32000);
  EXPECT_EQ(tok_->bos_id(), 1);
  EXPECT_EQ(tok_->eos_id(), 2);
}

TEST_F(SpTokenizerModel, EncodesHelloWorldToTheExportedPieces) {
  const std::vector<int> ids = tok_->encode("Hello world", /*bos=*/true, /*eos=*/false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], 1);
  // Independent check: the llama2.c export of the same vocabulary has " Hello" and " world" (▁ → space)
  // at these ids.
  const fs::path bin = llama2_dir() / "tokenizer.bin";
  if (fs::exists(bin)) {
    const auto pieces = read_tokenizer_bin(bin);
    ASSERT_EQ(pieces.size(), 32000u);
    EXPECT_EQ(pieces[static_cast<size_t>(ids[1])], " Hello");
    EXPECT_EQ(pieces[static_cast<size_t>(ids[2])], " world");
  }
  EXPECT_EQ(ids[1], 15043);
  EXPECT_EQ(ids[2], 3186);
  EXPECT_EQ(tok_->encode("Hello world", false, true), (std::vector<int>{15043, 3186, 2}));
}

TEST_F(SpTokenizerModel, PerTokenDecodeMatchesSentencePieceOnMultiLineUtf8) {
  const std::string text =
      "Once upon a time, a llama said \xC2\xABh\xC3\xA9llo\xC2\xBB.\n"
      "  Indented line with  two  spaces and a tab\there.\n"
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88 "
      "and an emoji \xF0\x9F\xA6\x99 (byte fallback)\n\nLast line.";
  std::vector<int> ids = tok_->encode(text, /*bos=*/true, /*eos=*/true);
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(path_.string()).ok());
  const std::string reference = sp.DecodeIds(ids);
  EXPECT_EQ(reference, text);  // LLaMA's tokenizer is lossless on this text
  EXPECT_EQ(concat_decode(*tok_, ids), reference);
  // Same without BOS: the first piece's dummy-prefix space is still dropped.
  ids = tok_->encode(text, false, false);
  EXPECT_EQ(concat_decode(*tok_, ids), sp.DecodeIds(ids));
  // Newline is the byte piece <0x0A> (id 13).
  EXPECT_EQ(tok_->decode(29889, 13), "\n");
}

TEST_F(SpTokenizerModel, DecodeDropsOnlyTheFirstLeadingSpace) {
  EXPECT_EQ(tok_->decode(1, 15043), "Hello");          // after BOS
  EXPECT_EQ(tok_->decode(-1, 15043), "Hello");         // start of a sequence without BOS
  EXPECT_EQ(tok_->decode(15043, 3186), " world");      // mid-sequence
  EXPECT_EQ(tok_->decode(3186, 1), "");                // control tokens are invisible
  EXPECT_EQ(tok_->decode(3186, 0), " \xE2\x81\x87 ");  // <unk> as SentencePiece shows it
  EXPECT_THROW(tok_->decode(1, 32000), duq::Error);
}

TEST(SpTokenizerErrors, NameTheFile) {
  const fs::path missing = duq::test::temp_dir("sp_missing") / "nope.model";
  try {
    duq::model::load_sentencepiece_tokenizer(missing.string());
    FAIL();
  } catch (const duq::Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const fs::path junk = duq::test::temp_dir("sp_junk") / "junk.model";
  duq::test::write_bytes(junk, "this is not a protobuf model at all");
  try {
    duq::model::load_sentencepiece_tokenizer(junk.string());
    FAIL();
  } catch (const duq::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(junk.string()), std::string::npos) << m;
    EXPECT_NE(m.find("not a SentencePiece model"), std::string::npos) << m;
  }
}
