#include "model/gguf_tokenizer.h"

#include <map>

#include "core/error.h"
#include "model/bpe_tokenizer.h"
#include "model/byte_bpe_tokenizer.h"

namespace duq::model {

namespace {

using formats::GgufValue;

constexpr int kTypeControl = 3, kTypeUserDefined = 4;  // llama.cpp's llama_token_type

class Kv {
 public:
  Kv(const GgufKeyValues& kv, const std::string& source) : source_(source) {
    for (const auto& [k, v] : kv) m_.emplace(k, &v);
  }
  const GgufValue* find(const std::string& k) const {
    auto it = m_.find(k);
    return it == m_.end() ? nullptr : it->second;
  }
  template <class T>
  const std::vector<T>& array(const std::string& k) const {
    const GgufValue* v = find(k);
    if (!v) fail(source_, ": missing key ", k);
    if (auto* a = v->get_array_if<T>()) return *a;
    fail(source_, ": key ", k, " has type ", v->type_name(), ", expected array of ",
         formats::gguf_type_name(formats::gguf_type_of<T>()));
  }
  std::string str(const std::string& k, const std::string& dflt) const {
    const GgufValue* v = find(k);
    if (!v) return dflt;
    if (auto* s = v->get_if<std::string>()) return *s;
    fail(source_, ": key ", k, " has type ", v->type_name(), ", expected string");
  }
  // Any integer type; dflt when absent.
  int64_t integer(const std::string& k, int64_t dflt) const {
    const GgufValue* v = find(k);
    if (!v) return dflt;
    return std::visit(
        [&](const auto& x) -> int64_t {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) return static_cast<int64_t>(x);
          else fail(source_, ": key ", k, " has type ", v->type_name(), ", expected an integer");
        },
        v->variant());
  }
  bool flag(const std::string& k, bool dflt) const {
    const GgufValue* v = find(k);
    if (!v) return dflt;
    if (auto* b = v->get_if<bool>()) return *b;
    fail(source_, ": key ", k, " has type ", v->type_name(), ", expected bool");
  }

 private:
  std::string source_;
  std::map<std::string, const GgufValue*> m_;
};

int special_id(const Kv& kv, const char* key, int dflt, size_t n, const std::string& source) {
  const int64_t id = kv.integer(key, dflt);
  if (id < 0 || static_cast<size_t>(id) >= n) fail(source, ": ", key, " = ", id, " is outside the vocabulary of ", n);
  return static_cast<int>(id);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

}  // namespace

GgufKeyValues gguf_tokenizer_kv(const formats::GgufFile& f) {
  GgufKeyValues kv;
  for (const auto& [k, v] : f.metadata())
    if (k.rfind("tokenizer.ggml.", 0) == 0) kv.emplace_back(k, v);
  return kv;
}

std::unique_ptr<Tokenizer> tokenizer_from_gguf_kv(const GgufKeyValues& kvs, const std::string& source) {
  const Kv kv(kvs, source);
  const std::string model = kv.str("tokenizer.ggml.model", "");
  if (model.empty()) fail(source, ": no tokenizer (missing key tokenizer.ggml.model); pass --tokenizer");
  const auto& tokens = kv.array<std::string>("tokenizer.ggml.tokens");
  const size_t n = tokens.size();
  std::vector<int32_t> types(n, 1);
  if (kv.find("tokenizer.ggml.token_type")) {
    types = kv.array<int32_t>("tokenizer.ggml.token_type");
    if (types.size() != n)
      fail(source, ": tokenizer.ggml.token_type has ", types.size(), " entries for ", n, " tokens");
  }
  const int bos = special_id(kv, "tokenizer.ggml.bos_token_id", 1, n, source);
  const int eos = special_id(kv, "tokenizer.ggml.eos_token_id", 2, n, source);
  if (model == "llama") {
    std::vector<float> scores(n, 0.f);
    if (kv.find("tokenizer.ggml.scores")) {
      scores = kv.array<float>("tokenizer.ggml.scores");
      if (scores.size() != n)
        fail(source, ": tokenizer.ggml.scores has ", scores.size(), " entries for ", n, " tokens");
    }
    std::vector<std::string> pieces;
    pieces.reserve(n);
    for (const auto& t : tokens) pieces.push_back(replace_all(t, "\xE2\x96\x81", " "));  // "▁" → " "
    return std::make_unique<BpeTokenizer>(std::move(pieces), std::move(scores), source, bos, eos,
                                          kv.flag("tokenizer.ggml.add_space_prefix", true),
                                          BpeTokenizer::ByteIds::ByName);
  }
  if (model == "gpt2") {
    ByteBpeVocab v;
    v.tokens = tokens;
    v.added.resize(n);
    v.control.resize(n);
    for (size_t i = 0; i < n; ++i) {
      v.added[i] = types[i] == kTypeControl || types[i] == kTypeUserDefined;
      v.control[i] = types[i] == kTypeControl;
    }
    for (const auto& m : kv.array<std::string>("tokenizer.ggml.merges")) {
      const size_t sp = m.find(' ');
      if (sp == std::string::npos) fail(source, ": tokenizer.ggml.merges entry '", m, "' has no space");
      v.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    const std::string pre = kv.str("tokenizer.ggml.pre", "default");
    if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
      v.pattern = kLlama3SplitPattern;
      v.ignore_merges = true;  // as llama.cpp does for LLaMA-3 (and tokenizer.json's ignore_merges)
    } else if (pre == "gpt-2" || pre == "gpt2") {
      v.pattern = kGpt2SplitPattern;
    } else {
      fail(source, ": tokenizer.ggml.pre '", pre, "' is not supported (duquant reads llama-bpe and gpt-2)");
    }
    v.bos = bos;
    v.eos = eos;
    return std::make_unique<ByteBpeTokenizer>(std::move(v), source);
  }
  fail(source, ": tokenizer.ggml.model '", model, "' is not supported (duquant reads llama and gpt2)");
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  const auto f = formats::GgufFile::open(path);
  return tokenizer_from_gguf_kv(gguf_tokenizer_kv(f), path);
}

}  // namespace duq::model
