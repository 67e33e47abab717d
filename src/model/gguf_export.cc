#include "model/gguf_export.h"

#include <deque>

#include "core/error.h"
#include "core/half.h"
#include "formats/llama2c_tokenizer_file.h"
#include "model/rope_freq.h"
#include "model/rope_layout.h"

namespace duq::model {

using formats::GgmlType;

namespace {
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6;  // llama.cpp's llama_token_type

bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(p[3])) && std::isxdigit(static_cast<unsigned char>(p[4]));
}

std::string replace_spaces(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == ' ' ? std::string("\xE2\x96\x81") : std::string(1, ch);  // ' ' → "▁"
  return out;
}
}  // namespace

GgufKeyValues llama_vocab_kv(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                             const std::vector<int32_t>& types, int bos, int eos, int unk) {
  const int n = static_cast<int>(pieces.size());
  DUQ_CHECK(scores.size() == pieces.size() && types.size() == pieces.size(), "llama_vocab_kv: sizes");
  if (bos < 0 || bos >= n || eos < 0 || eos >= n)
    fail("vocabulary of ", n, " tokens: bos ", bos, " / eos ", eos, " outside it");
  GgufKeyValues kv;
  kv.emplace_back("tokenizer.ggml.model", std::string("llama"));
  kv.emplace_back("tokenizer.ggml.pre", std::string("default"));
  kv.emplace_back("tokenizer.ggml.tokens", pieces);
  kv.emplace_back("tokenizer.ggml.scores", scores);
  kv.emplace_back("tokenizer.ggml.token_type", types);
  kv.emplace_back("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  kv.emplace_back("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  if (unk >= 0 && unk < n) kv.emplace_back("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(unk));
  kv.emplace_back("tokenizer.ggml.add_bos_token", true);
  kv.emplace_back("tokenizer.ggml.add_eos_token", false);
  return kv;
}

GgufKeyValues llama_vocab_kv_from_llama2c(const std::string& path, int bos, int eos) {
  const formats::Llama2cVocab v = formats::read_llama2c_tokenizer(path);
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  int unk = -1;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    const std::string& p = v.pieces[i];
    const int id = static_cast<int>(i);
    // As llama.cpp's llama2.c converter names and types them (tokenizer.bin spells BOS/EOS "\n<s>\n", "\n</s>\n").
    int32_t t = kNormal;
    std::string piece = p;
    if (p == "<unk>") t = kUnknown, unk = id;
    else if (id == bos) t = kControl, piece = "<s>";
    else if (id == eos) t = kControl, piece = "</s>";
    else if (is_byte_piece(p)) t = kByte;
    else piece = replace_spaces(p);
    pieces.push_back(piece);
    types.push_back(t);
  }
  return llama_vocab_kv(pieces, v.scores, types, bos, eos, unk);
}

void write_llama_gguf(const std::string& path, ModelConfig cfg, ModelWeights w, GgmlType matrices,
                      const GgufKeyValues& vocab, Replace replace) {
  if (matrices != GgmlType::F32 && matrices != GgmlType::F16)
    fail(path, ": llama.cpp GGUF output is written as F32 or F16 (quantize it with llama-quantize)");
  convert_to_interleaved(cfg, w);
  const int hd = cfg.head_dim();
  formats::GgufWriter g;
  const std::string a = "llama.";
  g.add_kv("general.architecture", std::string("llama"));
  g.add_kv("general.name", std::string("duquant convert"));
  g.add_kv("general.file_type",
           static_cast<uint32_t>(matrices == GgmlType::F32 ? 0 : 1));  // llama_ftype ALL_F32 / MOSTLY_F16
  g.add_kv(a + "vocab_size", static_cast<uint32_t>(cfg.vocab_size));
  g.add_kv(a + "context_length", static_cast<uint32_t>(cfg.max_seq_len));
  g.add_kv(a + "embedding_length", static_cast<uint32_t>(cfg.dim));
  g.add_kv(a + "feed_forward_length", static_cast<uint32_t>(cfg.hidden_dim));
  g.add_kv(a + "block_count", static_cast<uint32_t>(cfg.n_layers));
  g.add_kv(a + "attention.head_count", static_cast<uint32_t>(cfg.n_heads));
  g.add_kv(a + "attention.head_count_kv", static_cast<uint32_t>(cfg.n_kv_heads));
  g.add_kv(a + "attention.layer_norm_rms_epsilon", cfg.rms_eps);
  g.add_kv(a + "rope.freq_base", cfg.rope_theta);
  g.add_kv(a + "rope.dimension_count", static_cast<uint32_t>(hd));
  if (cfg.head_size > 0) {
    g.add_kv(a + "attention.key_length", static_cast<uint32_t>(hd));
    g.add_kv(a + "attention.value_length", static_cast<uint32_t>(hd));
  }
  if (cfg.sliding_window > 0) g.add_kv(a + "attention.sliding_window", static_cast<uint32_t>(cfg.sliding_window));
  // RoPE scaling: linear by key; LLaMA-3.1's (and any per-frequency) rescaling as the factors llama.cpp divides
  // its base frequencies by (rope_freqs.weight), which is how its converter writes LLaMA-3.1.
  std::vector<float> freq_factors;
  if (cfg.rope_scaling.type == RopeScaling::Type::Linear) {
    g.add_kv(a + "rope.scaling.type", std::string("linear"));
    g.add_kv(a + "rope.scaling.factor", cfg.rope_scaling.factor);
  } else if (cfg.rope_scaling.type != RopeScaling::Type::None) {
    ModelConfig plain = cfg;
    plain.rope_scaling = RopeScaling();
    const auto base = rope_inv_freq(plain), scaled = rope_inv_freq(cfg);
    for (size_t i = 0; i < base.size(); ++i) freq_factors.push_back(static_cast<float>(base[i] / scaled[i]));
  }
  for (const auto& [k, v] : vocab)
    if (k.rfind("tokenizer.ggml.", 0) == 0) g.add_kv(k, v);

  // Tensors: spans into w (F32) or into halves kept here until the write (F16); norms always F32.
  std::deque<std::vector<uint16_t>> halves;
  auto bytes_of = [](const float* p, int64_t n) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(n) * sizeof(float));
  };
  auto vec = [&](const std::string& name, const Vec& v) {
    g.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(v.size())},
                 bytes_of(v.data(), static_cast<int64_t>(v.size())));
  };
  auto mat = [&](const std::string& name, const Mat& m) {
    const std::vector<uint64_t> dims = {static_cast<uint64_t>(m.cols()), static_cast<uint64_t>(m.rows())};
    if (matrices == GgmlType::F32) {
      g.add_tensor(name, GgmlType::F32, dims, bytes_of(m.data(), m.size()));
      return;
    }
    auto& h = halves.emplace_back(static_cast<size_t>(m.size()));
    for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(m.data()[i]);
    g.add_tensor(name, GgmlType::F16, dims,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(h.data()), h.size() * sizeof(uint16_t)));
  };
  mat("token_embd.weight", w.embed);
  if (!freq_factors.empty())
    g.add_tensor("rope_freqs.weight", GgmlType::F32, {freq_factors.size()},
                 bytes_of(freq_factors.data(), static_cast<int64_t>(freq_factors.size())));
  for (int l = 0; l < cfg.n_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    vec(b + "attn_norm.weight", L.attn_norm);
    mat(b + "attn_q.weight", L.wq);
    mat(b + "attn_k.weight", L.wk);
    mat(b + "attn_v.weight", L.wv);
    mat(b + "attn_output.weight", L.wo);
    vec(b + "ffn_norm.weight", L.ffn_norm);
    mat(b + "ffn_gate.weight", L.w_gate);
    mat(b + "ffn_up.weight", L.w_up);
    mat(b + "ffn_down.weight", L.w_down);
  }
  vec("output_norm.weight", w.final_norm);
  if (!cfg.tied_embeddings) mat("output.weight", w.lm_head);
  g.write(path, replace);
}

}  // namespace duq::model
