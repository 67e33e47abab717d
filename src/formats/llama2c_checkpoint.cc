#include <sys/stat.h>

#include "formats/llama2c_checkpoint.h"

#include <cstdint>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace duq::formats {

namespace {
constexpr uint32_t kMagicV1 = 0x616b3432;  // "ak42" little-endian
constexpr uint64_t kV1HeaderBytes = 256;

int32_t read_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void check_dims(const Llama2cHeader& h, const std::string& path) {
  auto in_range = [&](const char* name, long long v, long long hi) {
    if (v <= 0 || v > hi) fail(path, ": llama2.c header field ", name, " = ", v, " is out of range (1..", hi, ")");
  };
  in_range("dim", h.dim, 1 << 17);
  in_range("hidden_dim", h.hidden_dim, 1 << 19);
  in_range("n_layers", h.n_layers, 4096);
  in_range("n_heads", h.n_heads, 4096);
  in_range("n_kv_heads", h.n_kv_heads, 4096);
  in_range("vocab_size", h.vocab_size, 1 << 22);
  in_range("seq_len", h.seq_len, 1 << 22);
  if (h.dim % h.n_heads != 0) fail(path, ": dim ", h.dim, " is not a multiple of n_heads ", h.n_heads);
  if (h.n_heads % h.n_kv_heads != 0)
    fail(path, ": n_heads ", h.n_heads, " is not a multiple of n_kv_heads ", h.n_kv_heads);
}
}  // namespace

Llama2cCheckpoint::Llama2cCheckpoint(const std::string& path) : file_(path) {
  const uint8_t* p = file_.data();
  const uint64_t size = file_.size();
  if (size < 28) fail(path, ": too short for a llama2.c checkpoint header (", size, " bytes, need at least 28)");
  Llama2cHeader& h = header_;
  uint32_t magic;
  std::memcpy(&magic, p, 4);
  const int32_t* fields;
  int32_t raw[7];
  if (magic == kMagicV1) {
    if (size < kV1HeaderBytes) fail(path, ": truncated version header (", size, " bytes, need 256)");
    h.version = read_i32(p + 4);
    if (h.version != 1)
      fail(path, ": llama2.c checkpoint version ", h.version,
           " is not supported (only legacy and version 1 fp32 exports)");
    for (int i = 0; i < 7; ++i) raw[i] = read_i32(p + 8 + 4 * i);
    h.shared_classifier = p[36] != 0;
    data_offset_ = kV1HeaderBytes;
  } else {
    for (int i = 0; i < 7; ++i) raw[i] = read_i32(p + 4 * i);
    h.shared_classifier = raw[5] > 0;
    if (raw[5] == INT32_MIN)  // has no positive counterpart: negating it overflows
      fail(path, ": llama2.c header field vocab_size = ", raw[5], " is out of range");
    if (raw[5] < 0) raw[5] = -raw[5];
    data_offset_ = 28;
  }
  fields = raw;
  h.dim = fields[0];
  h.hidden_dim = fields[1];
  h.n_layers = fields[2];
  h.n_heads = fields[3];
  h.n_kv_heads = fields[4];
  h.vocab_size = fields[5];
  h.seq_len = fields[6];
  check_dims(h, path);

  const uint64_t D = h.dim, H = h.hidden_dim, L = h.n_layers, V = h.vocab_size, S = h.seq_len;
  const uint64_t hd = D / h.n_heads, Q = D, K = hd * h.n_kv_heads;
  Llama2cLayout& o = layout_;
  uint64_t at = 0;
  auto take = [&at](uint64_t n) {
    uint64_t r = at;
    at += n;
    return r;
  };
  if (h.version == 0) {
    o.tok_embeddings = take(V * D);
    o.rms_att = take(L * D);
    o.wq = take(L * Q * D);
    o.wk = take(L * K * D);
    o.wv = take(L * K * D);
    o.wo = take(L * D * Q);
    o.rms_ffn = take(L * D);
    o.w1 = take(L * H * D);
    o.w2 = take(L * D * H);
    o.w3 = take(L * H * D);
    o.rms_final = take(D);
    take(S * hd / 2);  // freq_cis_real
    take(S * hd / 2);  // freq_cis_imag
  } else {
    o.rms_att = take(L * D);
    o.rms_ffn = take(L * D);
    o.rms_final = take(D);
    o.tok_embeddings = take(V * D);
    o.wq = take(L * Q * D);
    o.wk = take(L * K * D);
    o.wv = take(L * K * D);
    o.wo = take(L * D * Q);
    o.w1 = take(L * H * D);
    o.w2 = take(L * D * H);
    o.w3 = take(L * H * D);
  }
  o.wcls = h.shared_classifier ? o.tok_embeddings : take(V * D);
  o.total_floats = at;
  const uint64_t need = data_offset_ + 4 * at;
  if (size < need)
    fail(path, ": truncated llama2.c checkpoint: header describes ", need, " bytes (", h.n_layers, " layers, dim ",
         h.dim, ") but the file has ", size);
  if (size > need)
    fail(path, ": llama2.c checkpoint has ", size - need, " unexpected trailing bytes (header describes ", need,
         " bytes): wrong header or a different format");
}

const float* Llama2cCheckpoint::floats(uint64_t offset) const {
  DUQ_CHECK(offset <= layout_.total_floats);
  return reinterpret_cast<const float*>(file_.data() + data_offset_ + 4 * offset);
}

bool looks_like_llama2c(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;  // a FIFO would block the read
  std::ifstream f(path, std::ios::binary);
  int32_t raw[7] = {};
  if (!f.read(reinterpret_cast<char*>(raw), sizeof raw)) return false;
  if (static_cast<uint32_t>(raw[0]) == kMagicV1) return true;
  return raw[0] > 0 && raw[1] > 0 && raw[2] > 0 && raw[3] > 0 && raw[4] > 0 && raw[5] != 0 && raw[6] > 0;
}

}  // namespace duq::formats
