// Writes the seed corpora: small valid files of each format (and a few near-misses) into
// <out>/<target>/, written by our own writers where we have one, so the fuzzers start from inputs that
// reach deep into each parser. Real assets (tok512.bin, eval text) are added when <assets> has them.
//   make_seeds <out> [<assets>]
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/hf_source.h"
#include "model/synthetic.h"

namespace fs = std::filesystem;
using namespace duq;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream f(g_out / target / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write seed " + name);
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

template <class T>
std::string raw(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

model::ModelConfig tiny(bool tied, int kv_heads) {
  model::ModelConfig c;
  c.dim = 8;
  c.hidden_dim = 12;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = kv_heads;
  c.vocab_size = 16;
  c.max_seq_len = 32;
  c.tied_embeddings = tied;
  c.rope_layout = model::RopeLayout::RotateHalf;
  return c;
}

void safetensors_seeds() {
  const fs::path tmp = g_out / "tmp_hf";
  int i = 0;
  for (auto dt : {formats::DType::F32, formats::DType::BF16, formats::DType::F16}) {
    const auto c = tiny(i % 2 == 0, 1);
    model::write_hf_model(tmp.string(), c, model::random_weights(c, 7), dt, true);
    put("safetensors", "tiny_model_" + std::string(formats::dtype_name(dt)) + ".safetensors",
        slurp(tmp / "model.safetensors"));
    put("hf_config", "tiny_" + std::string(formats::dtype_name(dt)) + ".json", slurp(tmp / "config.json"));
    ++i;
  }
  fs::remove_all(tmp);
  // Hand-made headers: a scalar, an empty tensor, integer dtypes, metadata.
  auto st = [](const std::string& header, size_t data) {
    return raw<uint64_t>(header.size()) + header + std::string(data, '\x3f');
  };
  put("safetensors", "scalar_f64", st(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", 8));
  put("safetensors", "empty_tensor", st(R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", 0));
  put("safetensors", "ints_meta",
      st(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},)"
         R"("b":{"dtype":"BOOL","shape":[1],"data_offsets":[3,4]},"c":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}})",
         12));
  put("safetensors", "empty_header", st("{}", 0));
}

void config_seeds() {
  auto c = tiny(false, 2);
  c.rope_layout = model::RopeLayout::Interleaved;
  put("hf_config", "interleaved.json", model::hf_config_json(c, formats::DType::F32));
}

// llama2.c checkpoints: dim 8, hidden 12, 1 layer, 2 heads, kv heads 1, vocab 16, seq 4.
std::string llama2c(int version, bool shared) {
  const int D = 8, H = 12, L = 1, NH = 2, KV = 1, V = 16, S = 4;
  const int hd = D / NH, K = KV * hd;
  std::string s;
  if (version == 1) {
    s = raw<uint32_t>(0x616b3432) + raw<int32_t>(1);
    for (int v : {D, H, L, NH, KV, V, S}) s += raw<int32_t>(v);
    s += static_cast<char>(shared ? 1 : 0);
    s.resize(256, '\0');
  } else {
    for (int v : {D, H, L, NH, KV, shared ? V : -V, S}) s += raw<int32_t>(v);
  }
  long n = static_cast<long>(V) * D + 2L * L * D + D + L * (2L * D * D + 2L * K * D + 3L * H * D) +
           (version == 0 ? S * hd : 0) + (shared ? 0 : V * D);
  for (long i = 0; i < n; ++i) s += raw<float>(std::sin(0.1f * static_cast<float>(i)));
  return s;
}

void checkpoint_seeds() {
  put("llama2c_checkpoint", "legacy_shared.bin", llama2c(0, true));
  put("llama2c_checkpoint", "legacy_wcls.bin", llama2c(0, false));
  put("llama2c_checkpoint", "v1_shared.bin", llama2c(1, true));
  put("llama2c_checkpoint", "v1_wcls.bin", llama2c(1, false));
  std::string nan = llama2c(0, true);
  const float q = std::nanf("");
  std::memcpy(nan.data() + 28 + 4 * 100, &q, 4);
  put("llama2c_checkpoint", "legacy_nan.bin", nan);
}

// tokenizer.bin: 3 specials, 256 byte pieces, printable ASCII, a few merges. Suffix: text + length byte.
std::string tokenizer_file() {
  std::string s = raw<int32_t>(8);
  auto tok = [&](const std::string& piece, float score) {
    s += raw<float>(score) + raw<int32_t>(static_cast<int32_t>(piece.size())) + piece;
  };
  tok("<unk>", 0);
  tok("\n<s>\n", 0);
  tok("\n</s>\n", 0);
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tok(buf, 0);
  }
  for (int ch = 32; ch < 127; ++ch) tok(std::string(1, static_cast<char>(ch)), -1000.f + ch);
  float sc = 0;
  for (const char* m : {" t", "he", " the", "in", " a", "an", "and", " and", "é", "ll", "ell", "hell", "hello"})
    tok(m, sc -= 1);
  return s;
}

std::string with_text(const std::string& file, const std::string& text) {
  return file + text + static_cast<char>(text.size());
}

void tokenizer_seeds(const fs::path& assets) {
  const std::string t = tokenizer_file();
  put("llama2c_tokenizer", "small_hello", with_text(t, "hello the band"));
  put("llama2c_tokenizer", "small_utf8", with_text(t, "caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80"));
  put("llama2c_tokenizer", "small_empty_text", with_text(t, ""));
  const fs::path tok512 = assets / "models/stories260K/tok512.bin";
  if (fs::exists(tok512)) put("llama2c_tokenizer", "tok512", with_text(slurp(tok512), "Once upon a time, Lily"));
}

void text_seeds(const fs::path& assets) {
  int i = 0;
  for (const char* s : {"Once upon a time, there was a little girl named Lily.", "", " ", "a", "\n\n",
                        "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 100 \xf0\x9f\x98\x80!", "\xff\xfe\x80\x80\xc3",
                        "\xe2\x82", "<0x41><s></s>", "  double  spaces\tand\ttabs"})
    put("bpe_encode", "text" + std::to_string(i++), s);
  const fs::path eval = assets / "text/tinystories/eval.txt";
  if (fs::exists(eval)) {
    const std::string e = slurp(eval);
    for (size_t k = 0; k < 8 && k * 997 < e.size(); ++k)
      put("bpe_encode", "eval" + std::to_string(k), e.substr(k * 997, 40 + 30 * k));
  }
}

// GGUF: every metadata value type, arrays, tensors of several types, a blob, a non-default alignment.
void gguf_seeds() {
  using namespace formats;
  const fs::path p = g_out / "tmp.gguf";
  std::vector<uint8_t> f32s(4 * 6), bytes(10), halfs(2 * 8);
  for (size_t i = 0; i < f32s.size(); ++i) f32s[i] = static_cast<uint8_t>(i * 7);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  {
    GgufWriter w;
    w.add_kv("general.architecture", "llama");
    w.add_kv("general.name", "tiny");
    w.add_kv("llama.block_count", uint32_t{2});
    w.add_kv("u8", uint8_t{7});
    w.add_kv("i8", int8_t{-7});
    w.add_kv("u16", uint16_t{700});
    w.add_kv("i16", int16_t{-700});
    w.add_kv("i32", int32_t{-70000});
    w.add_kv("f32", 1.5f);
    w.add_kv("bool", true);
    w.add_kv("u64", uint64_t{1} << 40);
    w.add_kv("i64", int64_t{-1} << 40);
    w.add_kv("f64", 2.25);
    w.add_kv("arr.f32", std::vector<float>{1.f, 2.f, 3.f});
    w.add_kv("arr.str", std::vector<std::string>{"a", "bc", ""});
    w.add_kv("arr.bool", std::vector<bool>{true, false});
    w.add_tensor("w", GgmlType::F32, {3, 2}, f32s);
    w.add_tensor("h", GgmlType::F16, {8}, halfs);
    w.add_blob("packed", "w4.rowmajor.g128.v1", {4, 5}, bytes);
    w.write(p);
    put("gguf", "all_types.gguf", slurp(p));
  }
  {
    GgufWriter w(64);
    w.add_kv("general.architecture", "llama");
    w.add_tensor("a", GgmlType::I8, {10}, bytes);
    w.add_tensor("b", GgmlType::BF16, {2, 2, 2}, halfs);
    w.write(p);
    put("gguf", "align64.gguf", slurp(p));
  }
  {
    GgufWriter w;
    w.add_kv("only.meta", "no tensors");
    w.write(p);
    put("gguf", "meta_only.gguf", slurp(p));
  }
  {  // with checksums (formats/gguf_checksum.h): the fuzz_gguf_checksum corpus
    GgufWriter w;
    w.add_kv("general.architecture", "llama");
    w.add_kv("duquant.format_version", uint32_t{3});
    w.add_tensor("w", GgmlType::F32, {3, 2}, f32s);
    w.add_blob("packed", "w4.rowmajor.g128.v1", {4, 5}, bytes);
    w.add_checksums();
    w.write(p);
    put("gguf_checksum", "checksummed.gguf", slurp(p));
    put("gguf", "checksummed.gguf", slurp(p));
  }
  fs::remove(p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_seeds <out-dir> [<assets-dir>]\n";
    return 2;
  }
  g_out = argv[1];
  fs::create_directories(g_out);  // write_hf_model builds directories beside their target: the parent must exist
  const fs::path assets = argc > 2 ? fs::path(argv[2]) : fs::path();
  try {
    safetensors_seeds();
    config_seeds();
    checkpoint_seeds();
    tokenizer_seeds(assets);
    text_seeds(assets);
    gguf_seeds();
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
