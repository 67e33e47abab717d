#include "model/byte_bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/json_file.h"

namespace duq::model {

const char* const kGpt2SplitPattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the UTF-8 sequence starting with lead byte c (1 for a stray continuation or invalid byte).
size_t utf8_len(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}

// Decodes one codepoint at s[i] (len bytes); 0xFFFFFFFF if malformed.
uint32_t decode_cp(const std::string& s, size_t i, size_t len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (len == 1) return b(0) < 0x80 ? b(0) : 0xFFFFFFFFu;
  uint32_t cp = b(0) & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0xFFFFFFFFu;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  return cp;
}

// GPT-2's bytes_to_unicode as codepoints.
uint32_t byte_cp(unsigned char b) {
  const bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  if (self) return b;
  uint32_t n = 0;  // rank of b among the bytes that are not their own character
  for (unsigned c = 0; c < b; ++c)
    if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) ++n;
  return 256 + n;
}

std::string merge_key(const std::string& a, const std::string& b) {
  std::string k = a;
  k.push_back('\0');
  k += b;
  return k;
}

}  // namespace

std::string byte_to_unicode(unsigned char b) {
  std::string s;
  append_utf8(s, byte_cp(b));
  return s;
}

ByteBpeTokenizer::ByteBpeTokenizer(ByteBpeVocab v, std::string source) : v_(std::move(v)), source_(std::move(source)) {
  const size_t n = v_.tokens.size();
  if (n == 0) fail(source_, ": empty vocabulary");
  v_.added.resize(n, 0);
  v_.control.resize(n, 0);
  if (v_.bos < 0 || v_.bos >= static_cast<int>(n))
    fail(source_, ": no BOS token (id ", v_.bos, ") in the vocabulary of ", n);
  if (v_.eos < 0 || v_.eos >= static_cast<int>(n))
    fail(source_, ": no EOS token (id ", v_.eos, ") in the vocabulary of ", n);
  added_by_byte_.resize(256);
  for (size_t i = 0; i < n; ++i) {
    if (v_.added[i]) {
      if (!v_.tokens[i].empty())
        added_by_byte_[static_cast<unsigned char>(v_.tokens[i][0])].push_back(static_cast<int>(i));
    } else {
      index_.emplace(v_.tokens[i], static_cast<int>(i));
    }
  }
  for (auto& ids : added_by_byte_)
    std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) {
      return v_.tokens[static_cast<size_t>(a)].size() > v_.tokens[static_cast<size_t>(b)].size();
    });
  for (size_t r = 0; r < v_.merges.size(); ++r) {
    const auto& [a, b] = v_.merges[r];
    if (!index_.count(a) || !index_.count(b) || !index_.count(a + b))
      fail(source_, ": merge ", r, " ('", a, "' '", b, "') joins pieces that are not in the vocabulary");
    ranks_.emplace(merge_key(a, b), static_cast<int>(r));  // a repeated merge keeps its first (lowest) rank
  }
  for (int b = 0; b < 256; ++b) {
    unicode_to_byte_[static_cast<int>(byte_cp(static_cast<unsigned char>(b)))] = static_cast<unsigned char>(b);
    if (!index_.count(byte_to_unicode(static_cast<unsigned char>(b))))
      fail(source_, ": byte-level vocabulary lacks the token for byte ", b, " ('",
           byte_to_unicode(static_cast<unsigned char>(b)), "')");
  }
  int err = 0;
  PCRE2_SIZE off = 0;
  regex_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(v_.pattern.data()), v_.pattern.size(), PCRE2_UTF | PCRE2_UCP,
                         &err, &off, nullptr);
  if (!regex_) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail(source_, ": pre-tokenizer regex does not compile at offset ", off, ": ", reinterpret_cast<char*>(msg));
  }
}

ByteBpeTokenizer::~ByteBpeTokenizer() { pcre2_code_free(static_cast<pcre2_code*>(regex_)); }

std::vector<std::string> ByteBpeTokenizer::split(const std::string& text) const {
  std::vector<std::string> pieces;
  auto* re = static_cast<pcre2_code*>(regex_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, gap = 0;  // gap: start of the text not yet emitted
  while (pos <= text.size()) {
    const int rc = pcre2_match(re, subject, text.size(), pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail(source_, ": cannot split the text at byte ", pos, ": ", reinterpret_cast<char*>(msg),
           " (is it valid UTF-8?)");
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (b > gap) pieces.push_back(text.substr(gap, b - gap));  // text no alternative matched stays a piece
    if (e > b) pieces.push_back(text.substr(b, e - b));
    gap = e;
    // An empty match advances by one character so the scan always progresses.
    pos = e > b ? e : e + (e < text.size() ? utf8_len(static_cast<unsigned char>(text[e])) : 1);
  }
  pcre2_match_data_free(md);
  if (gap < text.size()) pieces.push_back(text.substr(gap));
  return pieces;
}

void ByteBpeTokenizer::encode_piece(const std::string& piece, std::vector<int>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::string mapped;
  std::vector<std::string> sym;
  for (unsigned char c : piece) {
    sym.push_back(byte_to_unicode(c));
    mapped += sym.back();
  }
  std::vector<int> ids;
  if (auto it = index_.find(mapped); v_.ignore_merges && it != index_.end()) {
    ids.push_back(it->second);
  } else {
    // Lowest-rank adjacent pair first (leftmost among equal ranks); pieces are short, so a scan per merge.
    while (sym.size() > 1) {
      int best = INT_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i)
        if (auto r = ranks_.find(merge_key(sym[i], sym[i + 1])); r != ranks_.end() && r->second < best) {
          best = r->second;
          at = i;
        }
      if (best == INT_MAX) break;
      sym[at] += sym[at + 1];
      sym.erase(sym.begin() + static_cast<long>(at) + 1);
    }
    for (const auto& s : sym) ids.push_back(index_.at(s));  // single bytes and merge results are all tokens
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() < (1u << 16)) cache_.emplace(piece, std::move(ids));
}

std::vector<int> ByteBpeTokenizer::encode(const std::string& text, bool bos, bool eos) const {
  std::vector<int> out;
  if (bos) out.push_back(v_.bos);
  size_t start = 0, i = 0;
  auto flush = [&](size_t end) {
    if (end > start)
      for (const auto& p : split(text.substr(start, end - start))) encode_piece(p, out);
  };
  while (i < text.size()) {
    int hit = -1;
    for (int id : added_by_byte_[static_cast<unsigned char>(text[i])]) {
      const std::string& t = v_.tokens[static_cast<size_t>(id)];
      if (text.compare(i, t.size(), t) == 0) {
        hit = id;
        break;
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(hit);
    i += v_.tokens[static_cast<size_t>(hit)].size();
    start = i;
  }
  flush(text.size());
  if (eos) out.push_back(v_.eos);
  return out;
}

std::string ByteBpeTokenizer::decode(int, int token) const {
  if (token < 0 || token >= vocab_size()) fail(source_, ": token id ", token, " is outside the vocabulary");
  const size_t t = static_cast<size_t>(token);
  if (v_.control[t]) return "";
  const std::string& s = v_.tokens[t];
  if (v_.added[t]) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    auto it = unicode_to_byte_.find(static_cast<int>(decode_cp(s, i, len)));
    if (it != unicode_to_byte_.end()) out.push_back(static_cast<char>(it->second));
    else out.append(s, i, len);  // not a mapped byte: keep the character as it is
    i += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// tokenizer.json

namespace {

// The pre-tokenizer's split regex: a Split with a Regex (or String) pattern, or ByteLevel's own GPT-2
// pattern (use_regex, default true). Refuses what this tokenizer would not reproduce.
std::string split_pattern(const nlohmann::json& pt, const std::string& source, bool& byte_level) {
  if (pt.is_null()) fail(source, ": no pre_tokenizer (byte-level BPE needs ByteLevel)");
  const std::string type = pt.value("type", std::string());
  if (type == "Sequence") {
    std::string pattern;
    for (const auto& p : pt.value("pretokenizers", nlohmann::json::array())) {
      std::string sub = split_pattern(p, source, byte_level);
      if (!sub.empty()) {
        if (!pattern.empty()) fail(source, ": more than one split pattern in the pre_tokenizer is not supported");
        pattern = sub;
      }
    }
    return pattern;
  }
  if (type == "ByteLevel") {
    byte_level = true;
    if (pt.value("add_prefix_space", false)) fail(source, ": ByteLevel add_prefix_space = true is not supported");
    return pt.value("use_regex", true) ? kGpt2SplitPattern : "";
  }
  if (type == "Split") {
    const auto& pat = pt.at("pattern");
    if (pt.value("behavior", std::string("Isolated")) != "Isolated" || pt.value("invert", false))
      fail(source, ": Split pre-tokenizer with behavior '", pt.value("behavior", std::string()),
           "' / invert is not supported (only Isolated)");
    if (pat.contains("Regex")) return pat["Regex"].get<std::string>();
    if (pat.contains("String")) return "\\Q" + pat["String"].get<std::string>() + "\\E";
    fail(source, ": Split pattern ", pat.dump(), " is neither Regex nor String");
  }
  fail(source, ": pre_tokenizer type '", type, "' is not supported (byte-level BPE: ByteLevel, Split, Sequence)");
}

// The first special token of the post-processor's single-sequence template (LLaMA-3: <|begin_of_text|>).
std::string template_bos(const nlohmann::json& pp) {
  if (!pp.is_object()) return "";
  if (pp.value("type", std::string()) == "Sequence")
    for (const auto& p : pp.value("processors", nlohmann::json::array()))
      if (auto s = template_bos(p); !s.empty()) return s;
  if (pp.value("type", std::string()) != "TemplateProcessing") return "";
  for (const auto& item : pp.value("single", nlohmann::json::array())) {
    if (item.contains("Sequence")) return "";
    if (item.contains("SpecialToken")) return item["SpecialToken"].value("id", std::string());
  }
  return "";
}

}  // namespace

ByteBpeVocab parse_tokenizer_json(const std::string& json_text, const std::string& source, int bos, int eos) {
  const nlohmann::json j = formats::parse_json(json_text, source);
  try {
    if (!j.is_object() || !j.contains("model")) fail(source, ": not a tokenizer.json (no 'model')");
    const auto& m = j["model"];
    const std::string type = m.value("type", std::string());
    if (type != "BPE") fail(source, ": tokenizer model '", type, "' is not supported (byte-level BPE only)");
    if (m.value("byte_fallback", false))
      fail(source, ": a SentencePiece-style BPE (byte_fallback); use the model's tokenizer.model instead");
    if (j.contains("normalizer") && !j["normalizer"].is_null())
      fail(source, ": normalizer '", j["normalizer"].value("type", std::string("?")),
           "' is not supported (byte-level BPE without a normalizer only)");
    ByteBpeVocab v;
    bool byte_level = false;
    v.pattern = split_pattern(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json(), source, byte_level);
    if (!byte_level) fail(source, ": pre_tokenizer has no ByteLevel step: not a byte-level BPE tokenizer");
    if (v.pattern.empty()) fail(source, ": pre_tokenizer has no split pattern");
    v.ignore_merges = m.value("ignore_merges", false);
    auto put = [&](int64_t id, const std::string& text) {
      if (id < 0 || id >= (1 << 22)) fail(source, ": token id ", id, " out of range");
      if (static_cast<size_t>(id) >= v.tokens.size()) v.tokens.resize(static_cast<size_t>(id) + 1);
      v.tokens[static_cast<size_t>(id)] = text;
    };
    for (const auto& [text, id] : m.at("vocab").items()) put(id.get<int64_t>(), text);
    v.added.assign(v.tokens.size(), 0);
    v.control.assign(v.tokens.size(), 0);
    for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
      const int64_t id = a.at("id").get<int64_t>();
      put(id, a.at("content").get<std::string>());
      v.added.resize(v.tokens.size(), 0);
      v.control.resize(v.tokens.size(), 0);
      v.added[static_cast<size_t>(id)] = 1;
      v.control[static_cast<size_t>(id)] = a.value("special", false);
    }
    for (const auto& mg : m.at("merges")) {
      if (mg.is_string()) {  // "a b" (tokenizers < 0.20)
        const std::string s = mg.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail(source, ": merge '", s, "' is not two tokens separated by one space");
        v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {  // ["a", "b"]
        if (!mg.is_array() || mg.size() != 2) fail(source, ": merge ", mg.dump(), " is not a pair");
        v.merges.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
      }
    }
    auto find = [&](const std::string& text) {
      for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.tokens[i] == text && !text.empty()) return static_cast<int>(i);
      return -1;
    };
    v.bos = bos;
    if (v.bos < 0) {
      const std::string b = template_bos(j.contains("post_processor") ? j["post_processor"] : nlohmann::json());
      v.bos = b.empty() ? find("<|begin_of_text|>") : find(b);
    }
    v.eos = eos;
    for (const char* name : {"<|end_of_text|>", "<|endoftext|>", "</s>"})
      if (v.eos < 0) v.eos = find(name);
    return v;
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": malformed tokenizer.json: ", e.what());
  }
}

std::unique_ptr<Tokenizer> tokenizer_json_from_bytes(const std::string& bytes, const std::string& source, int bos,
                                                     int eos) {
  return std::make_unique<ByteBpeTokenizer>(parse_tokenizer_json(bytes, source, bos, eos), source);
}

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path, int bos, int eos) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open tokenizer");
  std::stringstream ss;
  ss << f.rdbuf();
  return tokenizer_json_from_bytes(ss.str(), path, bos, eos);
}

}  // namespace duq::model
