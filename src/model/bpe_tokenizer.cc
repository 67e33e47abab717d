#include "model/bpe_tokenizer.h"

#include <cstdio>
#include <queue>

#include "core/error.h"
#include "formats/llama2c_tokenizer_file.h"

namespace duq::model {

BpeTokenizer::BpeTokenizer(std::vector<std::string> pieces, std::vector<float> scores, std::string source, int bos,
                           int eos, bool dummy_prefix, ByteIds byte_ids)
    : pieces_(std::move(pieces)),
      scores_(std::move(scores)),
      source_(std::move(source)),
      bos_(bos),
      eos_(eos),
      dummy_prefix_(dummy_prefix) {
  DUQ_CHECK(pieces_.size() == scores_.size());
  const int n = static_cast<int>(pieces_.size());
  if (bos_ < 0 || bos_ >= n || eos_ < 0 || eos_ >= n)
    fail(source_, ": BOS id ", bos_, " / EOS id ", eos_, " outside the vocabulary of ", n);
  index_.reserve(pieces_.size() * 2);
  // run.c bsearches a sorted copy; with duplicate pieces the first id is the natural choice.
  for (size_t i = 0; i < pieces_.size(); ++i) index_.emplace(pieces_[i], static_cast<int>(i));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const int id = byte_ids == ByteIds::ByName ? lookup(name) : -1;
    byte_ids_[b] = id >= 0 ? id : b + 3;
    if (byte_ids_[b] >= n) fail(source_, ": no byte piece ", name, " (needed for byte fallback)");
  }
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::load(const std::string& path) {
  auto v = formats::read_llama2c_tokenizer(path);
  return from_vocab(std::move(v), path);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_bytes(const std::string& bytes, const std::string& source) {
  auto v = formats::parse_llama2c_tokenizer(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), source);
  return from_vocab(std::move(v), source);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_vocab(formats::Llama2cVocab v, const std::string& path) {
  if (v.pieces.size() < 3 + 256)
    fail(path, ": llama2.c tokenizer has ", v.pieces.size(),
         " tokens; need at least 259 (3 specials + 256 byte pieces)");
  return std::make_unique<BpeTokenizer>(std::move(v.pieces), std::move(v.scores), path);
}

int BpeTokenizer::lookup(const std::string& s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int> BpeTokenizer::encode(const std::string& text, bool bos, bool eos) const {
  std::vector<int> tokens;
  tokens.reserve(text.size() + 3);
  if (bos) tokens.push_back(bos_id());
  if (!text.empty() && dummy_prefix_) {
    int prefix = lookup(" ");
    if (prefix < 0) fail(source_, ": tokenizer has no \" \" piece for the dummy prefix");
    tokens.push_back(prefix);
  }
  // Codepoints: a lead byte starts a new buffer; continuation bytes append (at most 4 bytes).
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) buf.clear();
    buf.push_back(static_cast<char>(c));
    const bool next_cont = i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
    if (next_cont && buf.size() < 4) continue;
    int id = lookup(buf);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (unsigned char b : buf) tokens.push_back(byte_ids_[b]);
    }
    buf.clear();
  }

  // Merge phase over every token so far (run.c includes BOS too). Linked list + heap of candidate pairs.
  const size_t first = 0;
  const int n = static_cast<int>(tokens.size() - first);
  if (n >= 2) {
    std::vector<int> tok(tokens.begin() + static_cast<long>(first), tokens.end());
    std::vector<int> next(n), prev(n), version(n, 0);
    std::vector<char> alive(n, 1);
    for (int i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    struct Cand {
      float score;
      int left, right, id, vl, vr;
    };
    // Highest score first; among equal scores the leftmost pair (smallest left index, which is the
    // sequence order because merged nodes keep the left node's index).
    auto worse = [](const Cand& a, const Cand& b) {
      if (a.score != b.score) return a.score < b.score;
      return a.left > b.left;
    };
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
    std::string tmp;
    auto push = [&](int l) {
      if (l < 0) return;
      int r = next[l];
      if (r < 0) return;
      tmp = pieces_[static_cast<size_t>(tok[l])];
      tmp += pieces_[static_cast<size_t>(tok[r])];
      int id = lookup(tmp);
      if (id >= 0) heap.push({scores_[static_cast<size_t>(id)], l, r, id, version[l], version[r]});
    };
    for (int i = 0; i + 1 < n; ++i) push(i);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || version[c.left] != c.vl ||
          version[c.right] != c.vr)
        continue;  // stale: one side merged since this pair was pushed
      tok[c.left] = c.id;
      ++version[c.left];
      alive[c.right] = 0;
      next[c.left] = next[c.right];
      if (next[c.right] >= 0) prev[next[c.right]] = c.left;
      push(prev[c.left]);
      push(c.left);
    }
    tokens.resize(first);
    for (int i = 0; i >= 0; i = next[i]) tokens.push_back(tok[i]);
  }
  if (eos) tokens.push_back(eos_id());
  return tokens;
}

std::string BpeTokenizer::decode(int prev, int token) const {
  if (token < 0 || token >= vocab_size()) fail(source_, ": token id ", token, " is outside the vocabulary");
  const std::string& p = pieces_[static_cast<size_t>(token)];
  const char* s = p.c_str();
  size_t len = p.size();
  if (prev == bos_id() && len > 0 && s[0] == ' ') {
    ++s;
    --len;
  }
  unsigned char byte;
  if (len == 6 && std::sscanf(s, "<0x%02hhX>", &byte) == 1) return std::string(1, static_cast<char>(byte));
  return std::string(s, len);
}

}  // namespace duq::model
