// A straight port of llama2.c run.c's encode(): rescan all pairs after every merge, O(n²).
// The reference the heap-based BpeTokenizer must match token for token.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

namespace duq::test {

inline std::vector<int> naive_llama2c_encode(const std::vector<std::string>& vocab, const std::vector<float>& scores,
                                             const std::string& text, bool bos, bool eos) {
  std::unordered_map<std::string, int> idx;
  for (size_t i = vocab.size(); i-- > 0;) idx[vocab[i]] = static_cast<int>(i);  // first id wins
  auto lookup = [&](const std::string& s) {
    auto it = idx.find(s);
    return it == idx.end() ? -1 : it->second;
  };
  std::vector<int> t;
  if (bos) t.push_back(1);
  if (!text.empty()) t.push_back(lookup(" "));
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) buf.clear();
    buf.push_back(static_cast<char>(c));
    if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 && buf.size() < 4) continue;
    int id = lookup(buf);
    if (id != -1) t.push_back(id);
    else
      for (unsigned char b : buf) t.push_back(b + 3);
    buf.clear();
  }
  while (true) {
    float best = -1e10f;
    int best_id = -1, best_i = -1;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      int id = lookup(vocab[static_cast<size_t>(t[i])] + vocab[static_cast<size_t>(t[i + 1])]);
      if (id != -1 && scores[static_cast<size_t>(id)] > best) {
        best = scores[static_cast<size_t>(id)];
        best_id = id;
        best_i = static_cast<int>(i);
      }
    }
    if (best_i == -1) break;
    t[static_cast<size_t>(best_i)] = best_id;
    t.erase(t.begin() + best_i + 1);
  }
  if (eos) t.push_back(2);
  return t;
}

}  // namespace duq::test
