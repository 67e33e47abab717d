#include "model/sp_tokenizer.h"

#include <sentencepiece_processor.h>

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "model/gguf_export.h"

namespace duq::model {

namespace {

class SpTokenizer : public Tokenizer {
 public:
  // bytes == nullptr: load the file `path`; otherwise parse the serialized model (path names it in errors).
  SpTokenizer(const std::string& path, const std::string* bytes) : path_(path) {
    std::error_code ec;
    if (!bytes && !std::filesystem::is_regular_file(path, ec)) fail(path, ": tokenizer file not found");
    const auto st = bytes ? sp_.LoadFromSerializedProto(*bytes) : sp_.Load(path);
    if (!st.ok()) fail(path, ": not a SentencePiece model (", st.ToString(), ")");
    const int n = sp_.GetPieceSize();
    if (n <= 0) fail(path, ": SentencePiece model has an empty vocabulary");
    // Per-id surface text, precomputed so decode() is a lookup.
    text_.resize(static_cast<size_t>(n));
    kind_.resize(static_cast<size_t>(n));
    for (int id = 0; id < n; ++id) {
      auto& s = text_[static_cast<size_t>(id)];
      Kind& k = kind_[static_cast<size_t>(id)];
      const std::string& piece = sp_.IdToPiece(id);
      if (sp_.IsControl(id)) {
        k = Kind::Control;  // <s>, </s>: invisible
      } else if (sp_.IsUnknown(id)) {
        k = Kind::Unknown;
        s = " \xE2\x81\x87 ";  // SentencePiece's " ⁇ "
      } else if (sp_.IsByte(id)) {
        k = Kind::Byte;
        // "<0xHH>" → the byte itself
        if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>')
          fail(path, ": byte piece ", id, " is '", piece, "', expected <0xHH>");
        s.assign(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      } else {
        k = Kind::Normal;
        static const std::string kSpace = "\xE2\x96\x81";  // U+2581 "▁"
        for (size_t i = 0; i < piece.size();) {
          if (piece.compare(i, kSpace.size(), kSpace) == 0) {
            s += ' ';
            i += kSpace.size();
          } else {
            s += piece[i++];
          }
        }
      }
    }
  }

  std::vector<int> encode(const std::string& text, bool bos, bool eos) const override {
    std::vector<int> ids;
    const auto st = sp_.Encode(text, &ids);
    if (!st.ok()) fail(path_, ": cannot encode text: ", st.ToString());
    if ((bos && sp_.bos_id() < 0) || (eos && sp_.eos_id() < 0))
      fail(path_, ": this SentencePiece model defines no ", bos && sp_.bos_id() < 0 ? "BOS" : "EOS", " token");
    if (bos) ids.insert(ids.begin(), sp_.bos_id());
    if (eos) ids.push_back(sp_.eos_id());
    return ids;
  }

  std::string decode(int prev, int token) const override {
    if (token < 0 || token >= vocab_size())
      fail(path_, ": token id ", token, " outside the vocabulary of ", vocab_size());
    const auto t = static_cast<size_t>(token);
    const std::string& s = text_[t];
    // SentencePiece drops the dummy-prefix space of the first visible piece of a sequence.
    const bool first = prev < 0 || prev >= vocab_size() || kind_[static_cast<size_t>(prev)] == Kind::Control;
    if (first && kind_[t] == Kind::Normal && !s.empty() && s[0] == ' ') return s.substr(1);
    return s;
  }

  int vocab_size() const override { return static_cast<int>(text_.size()); }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }

 private:
  enum class Kind : unsigned char { Normal, Control, Unknown, Byte };
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::string> text_;
  std::vector<Kind> kind_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path) {
  return std::make_unique<SpTokenizer>(path, nullptr);
}

std::unique_ptr<Tokenizer> sentencepiece_tokenizer_from_bytes(const std::string& bytes, const std::string& source) {
  return std::make_unique<SpTokenizer>(source, &bytes);
}

GgufKeyValues llama_vocab_kv_from_sentencepiece(const std::string& path, int bos, int eos) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": tokenizer file not found");
  sentencepiece::SentencePieceProcessor sp;
  if (const auto st = sp.Load(path); !st.ok()) fail(path, ": not a SentencePiece model (", st.ToString(), ")");
  const int n = sp.GetPieceSize();
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int id = 0; id < n; ++id) {
    pieces.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
    // llama_token_type as llama.cpp's converter assigns it from the SentencePiece piece types
    types.push_back(sp.IsUnknown(id) ? 2 : sp.IsControl(id) ? 3 : sp.IsUnused(id) ? 5 : sp.IsByte(id) ? 6 : 1);
  }
  return llama_vocab_kv(pieces, scores, types, bos, eos, sp.unk_id());
}

}  // namespace duq::model
