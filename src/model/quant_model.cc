#include "model/quant_model.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "formats/dtype.h"
#include "formats/gguf.h"
#include "formats/q8_0.h"
#include "model/quant_model_io.h"

namespace duq::model {

namespace {

using formats::GgmlType;
using formats::GgufFile;
using formats::GgufWriter;
using quant_io::add_mat;
using quant_io::add_vec;
using quant_io::blk;
using quant_io::bytes_of;
using quant_io::check_clip;
using quant_io::Owned;
using quant_io::read_fvec;
using quant_io::read_ivec;
using quant_io::read_mat;
using quant_io::read_site_transform;
using quant_io::write_site_transform;

const char* kLinearNames[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
const char* kSiteNames[kNumSites] = {"attn_in", "attn_out", "ffn_in", "down_in"};

std::array<kernels::PackedWeights*, 7> linears(QuantLayer& L) {
  return {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down};
}
std::array<const kernels::PackedWeights*, 7> linears(const QuantLayer& L) {
  return {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down};
}
// Logical [N×K] of each linear, from the config.
std::array<std::pair<int64_t, int64_t>, 7> linear_shapes(const ModelConfig& c) {
  const int64_t D = c.dim, H = c.hidden_dim, Q = c.q_dim(), K = c.kv_dim();
  return {{{Q, D}, {K, D}, {K, D}, {D, Q}, {H, D}, {H, D}, {D, H}}};
}
std::array<int64_t, kNumSites> site_widths(const ModelConfig& c) { return {c.dim, c.q_dim(), c.dim, c.hidden_dim}; }

GgmlType ggml_type_of(TableType t) {
  return t == TableType::F32 ? GgmlType::F32 : t == TableType::F16 ? GgmlType::F16 : GgmlType::Q8_0;
}

// A V×D table stored as `type`. F16 rounds to nearest even and refuses values beyond ±65504 rather than
// writing inf; Q8_0 needs D to be a multiple of 32.
void add_table(GgufWriter& w, Owned& own, const std::string& name, const Mat& m, TableType type) {
  if (type == TableType::F32) {
    w.add_tensor(name, GgmlType::F32, {static_cast<uint64_t>(m.cols()), static_cast<uint64_t>(m.rows())},
                 bytes_of(m.data(), static_cast<size_t>(m.size())));
    return;
  }
  const size_t n = static_cast<size_t>(m.size());
  std::vector<uint8_t>& out = own.bytes.emplace_back();
  if (type == TableType::F16) {
    out.resize(2 * n);
    for (size_t i = 0; i < n; ++i) {
      const float x = m.data()[i];
      const uint16_t h = formats::f32_to_f16(x);
      if ((h & 0x7c00u) == 0x7c00u)  // rounded to ±inf (or x was not finite)
        fail("tensor ", name, ": value ", x, " at [", i / static_cast<size_t>(m.cols()), ", ",
             i % static_cast<size_t>(m.cols()), "] is outside the f16 range (±65504); store it as f32");
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    if (m.cols() % static_cast<int64_t>(formats::kQ8_0Block) != 0)
      fail("tensor ", name, ": Q8_0 needs rows of a multiple of ", formats::kQ8_0Block, " values, but dim is ",
           m.cols(), "; store it as f16 or f32");
    out.resize(n / formats::kQ8_0Block * formats::kQ8_0BlockBytes);
    formats::q8_0_encode(m.data(), n, out.data(), ("tensor " + name).c_str());
  }
  w.add_tensor(name, ggml_type_of(type), {static_cast<uint64_t>(m.cols()), static_cast<uint64_t>(m.rows())},
               std::span<const uint8_t>(out.data(), out.size()));
}

// --- reading helpers ---
// A V×D table stored as F32, F16 or Q8_0 (add_table), checked; `type` receives how it was stored.
const formats::GgufTensor& table_tensor(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols,
                                        TableType& type) {
  const auto& t = f.tensor(name);
  const uint64_t dims[2] = {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)};
  if (t.type == GgmlType::F32) type = TableType::F32;
  else if (t.type == GgmlType::F16) type = TableType::F16;
  else if (t.type == GgmlType::Q8_0) type = TableType::Q8_0;
  else fail(f.path(), ": tensor ", name, " is ", formats::ggml_type_name(t.type), ", expected F32, F16 or Q8_0");
  if (!std::equal(t.dims.begin(), t.dims.end(), std::begin(dims), std::end(dims)))
    fail(f.path(), ": tensor ", name, " is ", formats::ggml_type_name(t.type), " ", formats::gguf_dims_str(t.dims),
         ", expected ", formats::gguf_dims_str(dims), " (dim × vocab_size)");
  const uint64_t want = formats::ggml_nbytes(t.type, static_cast<uint64_t>(rows * cols));
  if (t.nbytes != want)
    fail(f.path(), ": tensor ", name, " holds ", t.nbytes, " bytes, expected ", want, " for ",
         formats::ggml_type_name(t.type), " ", formats::gguf_dims_str(dims));
  return t;
}

// n values of a table stored as `type` at `src`, widened to float32 (exactly: F16 and Q8_0 decode to floats).
void widen(TableType type, const uint8_t* src, size_t n, float* out) {
  if (type == TableType::F32) std::memcpy(out, src, n * sizeof(float));
  else if (type == TableType::F16) formats::convert_to_f32(formats::DType::F16, src, n, out);
  else formats::q8_0_decode(src, n, out);
}

void check_finite(const GgufFile& f, const std::string& name, std::span<const float> v) {
  for (float x : v)
    if (!std::isfinite(x)) fail(f.path(), ": tensor ", name, " holds NaN or Inf");
}

// The table widened to float32.
Mat read_table(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols, TableType& type) {
  const auto& t = table_tensor(f, name, rows, cols, type);
  Mat m(rows, cols);
  widen(type, t.data, static_cast<size_t>(m.size()), m.data());
  check_finite(f, name, m.flat());
  return m;
}

// The table's stored bytes as T elements (Q8_0 blocks as bytes, F16 as halves), checked finite row by row.
template <typename T>
AlignedVector<T> read_table_as_stored(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols,
                                      TableType type) {
  const auto& t = table_tensor(f, name, rows, cols, type);
  AlignedVector<T> out(static_cast<size_t>(t.nbytes) / sizeof(T));
  std::memcpy(out.data(), t.data, static_cast<size_t>(t.nbytes));
  const size_t row_bytes = static_cast<size_t>(t.nbytes / static_cast<uint64_t>(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    widen(type, reinterpret_cast<const uint8_t*>(out.data()) + static_cast<size_t>(r) * row_bytes, row.size(),
          row.data());
    check_finite(f, name, row);
  }
  return out;
}

Vec to_vec(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

void add_packed(GgufWriter& w, const std::string& base, const kernels::PackedWeights& p) {
  w.add_blob(base + ".q", p.bits == 4 ? "duquant.w4.panel16.v1" : "duquant.w8.panel16.v1",
             {static_cast<uint64_t>(p.rows), static_cast<uint64_t>(p.cols)}, bytes_of(p.data.data(), p.data.size()));
  add_vec(w, base + ".scale", p.scale.data(), static_cast<size_t>(p.rows));
  w.add_tensor(base + ".zero", GgmlType::I32, {static_cast<uint64_t>(p.rows)},
               bytes_of(p.zero.data(), static_cast<size_t>(p.rows)));
}

// The wide columns of a linear's low-bit weights must hold code = zero point (ŵ = 0): the engine feeds them
// placeholder activations (kernels::quantize_acts_split), the simulation adds the 8-bit columns there.
void check_wide_columns_zero(const GgufFile& f, const std::string& base, const kernels::PackedWeights& p,
                             const std::vector<int32_t>& wide) {
  std::vector<uint8_t> codes(static_cast<size_t>(p.rows * p.cols));
  kernels::unpack_weight_codes(p, codes.data());
  for (int64_t r = 0; r < p.rows; ++r)
    for (int32_t j : wide)
      if (codes[static_cast<size_t>(r * p.cols + j)] != p.zero[static_cast<size_t>(r)])
        fail(f.path(), ": tensor ", base, ".q holds a non-zero weight in wide channel ", j, " (row ", r, ")");
}

kernels::PackedWeights read_packed(const GgufFile& f, const std::string& base, int64_t n, int64_t k, int wbits) {
  auto blob = f.blob(base + ".q");
  const int bits = wbits <= 4 ? 4 : 8;
  const std::string want_layout = bits == 4 ? "duquant.w4.panel16.v1" : "duquant.w8.panel16.v1";
  if (blob.layout != want_layout)
    fail(f.path(), ": tensor ", base, ".q has layout '", blob.layout, "', expected '", want_layout, "' for ", wbits,
         "-bit weights");
  if (blob.shape.size() != 2 || blob.shape[0] != static_cast<uint64_t>(n) || blob.shape[1] != static_cast<uint64_t>(k))
    fail(f.path(), ": tensor ", base, ".q has the wrong logical shape (expected [", n, ", ", k, "])");
  kernels::PackedWeights p;
  p.bits = bits;
  p.rows = n;
  p.cols = k;
  p.rows_pad = (n + kernels::kPanelRows - 1) / kernels::kPanelRows * kernels::kPanelRows;
  p.cols_pad = (k + kernels::kWeightKAlign - 1) / kernels::kWeightKAlign * kernels::kWeightKAlign;
  if (blob.bytes.size() != static_cast<size_t>(p.panel_bytes() * (p.rows_pad / kernels::kPanelRows)))
    fail(f.path(), ": tensor ", base, ".q has ", blob.bytes.size(), " bytes, expected ",
         p.panel_bytes() * (p.rows_pad / kernels::kPanelRows), " for packed ", bits, "-bit [", n, " × ", k, "]");
  p.data.assign(blob.bytes.begin(), blob.bytes.end());
  auto scale = read_fvec(f, base + ".scale", n);
  auto zero = read_ivec(f, base + ".zero", n);
  for (int32_t z : zero)
    if (z < -kernels::kZeroPointLimit || z > kernels::kZeroPointLimit)
      fail(f.path(), ": tensor ", base, ".zero holds an out-of-range zero point ", z);
  p.scale.assign(static_cast<size_t>(p.rows_pad), 0.f);
  p.zero.assign(static_cast<size_t>(p.rows_pad), 0);
  std::copy(scale.begin(), scale.end(), p.scale.begin());
  std::copy(zero.begin(), zero.end(), p.zero.begin());
  // Re-pack from the codes so that every derived sum is computed here, never trusted from the file.
  std::vector<uint8_t> codes(static_cast<size_t>(n * k));
  kernels::unpack_weight_codes(p, codes.data());
  // The declared bit width must match the codes (a header saying W2 over 4-bit codes is refused).
  if (wbits < bits)
    for (uint8_t c : codes)
      if (c >= (1u << wbits)) fail(f.path(), ": tensor ", base, ".q holds code ", int(c), " beyond ", wbits, " bits");
  return kernels::pack_weights(codes.data(), k, n, k, bits, scale.data(), zero.data());
}

}  // namespace

const char* table_type_name(TableType t) { return t == TableType::F32 ? "f32" : t == TableType::F16 ? "f16" : "q8_0"; }

TableType parse_table_type(const std::string& s, const std::string& flag) {
  if (s == "f32") return TableType::F32;
  if (s == "f16") return TableType::F16;
  if (s == "q8_0") return TableType::Q8_0;
  fail(flag, ": unknown storage type '", s, "' (expected f32, f16 or q8_0)");
}

uint32_t quant_format_version_for(const QuantModelData& m) {
  const ModelConfig& c = m.cfg;
  bool v3 = c.rope_scaling.type != RopeScaling::Type::None || c.head_size > 0 || c.sliding_window > 0 ||
            (m.tokenizer_kind != "llama2c" && m.tokenizer_kind != "sentencepiece");
  for (const auto& L : m.layers)  // a randomized Hadamard or per-block rotations (kQuantFormatVersion's note)
    for (const auto& t : L.sites) {
      v3 = v3 || t.kind == OnlineTransform::Kind::Hadamard;
      for (const auto& r : t.rotations) v3 = v3 || !r.per_block.empty();
    }
  bool wide = false;
  for (const auto& L : m.layers)
    for (const auto& t : L.sites) wide = wide || !t.wide.empty();
  for (const auto& kc : m.q.k_center)
    if (!kc.empty()) return kQuantFormatVersionKeyCenter;
  return wide ? kQuantFormatVersionWide : v3 ? kQuantFormatVersionV3 : kQuantFormatVersionBase;
}

void write_quant_model(const std::string& path, const QuantModelData& m, Replace replace) {
  const ModelConfig& c = m.cfg;
  DUQ_CHECK(m.embed_q8_0.empty() && m.lm_head_f16.empty(),
            "write_quant_model: tables read as stored; widen_tables first");
  GgufWriter w;
  w.add_kv("general.architecture", "llama");
  w.add_kv("general.name", "duquant " + m.q.method);
  w.add_kv("duquant.format_version", quant_format_version_for(m));
  w.add_kv("duquant.method", m.q.method);
  w.add_kv("duquant.settings", m.q.description);
  w.add_kv("duquant.wbits", static_cast<uint32_t>(m.q.wbits));
  w.add_kv("duquant.abits", static_cast<uint32_t>(m.q.abits));
  w.add_kv("duquant.kv_bits", static_cast<uint32_t>(m.q.kv_bits));
  w.add_kv("duquant.lac", m.q.lac);
  w.add_kv("duquant.qk_clip", m.q.qk_clip);
  w.add_kv("duquant.swc", m.q.swc);
  w.add_kv("duquant.config.dim", static_cast<uint32_t>(c.dim));
  w.add_kv("duquant.config.hidden_dim", static_cast<uint32_t>(c.hidden_dim));
  w.add_kv("duquant.config.n_layers", static_cast<uint32_t>(c.n_layers));
  w.add_kv("duquant.config.n_heads", static_cast<uint32_t>(c.n_heads));
  w.add_kv("duquant.config.n_kv_heads", static_cast<uint32_t>(c.n_kv_heads));
  w.add_kv("duquant.config.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.add_kv("duquant.config.max_seq_len", static_cast<uint32_t>(c.max_seq_len));
  w.add_kv("duquant.config.rope_theta", c.rope_theta);
  w.add_kv("duquant.config.rms_eps", c.rms_eps);
  w.add_kv("duquant.config.tied_embeddings", c.tied_embeddings);
  w.add_kv("duquant.config.rope_layout", c.rope_layout == RopeLayout::Interleaved ? "interleaved" : "rotate_half");
  w.add_kv("duquant.config.bos_id", static_cast<uint32_t>(c.bos_id));
  w.add_kv("duquant.config.eos_id", static_cast<uint32_t>(c.eos_id));
  // Version 3 keys, written only when they say something (a version-2 file has none of them).
  if (c.head_size > 0) w.add_kv("duquant.config.head_dim", static_cast<uint32_t>(c.head_size));
  if (c.sliding_window > 0) w.add_kv("duquant.config.sliding_window", static_cast<uint32_t>(c.sliding_window));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type != RopeScaling::Type::None) {
    w.add_kv("duquant.config.rope_scaling", rope_scaling_name(rs.type));
    if (rs.type == RopeScaling::Type::FreqFactors) {
      w.add_kv("duquant.config.rope_freq_factors", rs.freq_factors);
    } else {
      w.add_kv("duquant.config.rope_scaling_factor", rs.factor);
    }
    if (rs.type == RopeScaling::Type::Llama3) {
      w.add_kv("duquant.config.rope_low_freq_factor", rs.low_freq_factor);
      w.add_kv("duquant.config.rope_high_freq_factor", rs.high_freq_factor);
      w.add_kv("duquant.config.rope_original_max_pos", static_cast<uint32_t>(rs.original_max_pos));
    }
  }
  // Optional in any version: readers that do not know it refuse longer contexts, which is safe.
  if (c.context_extendable) w.add_kv("duquant.config.context_extendable", true);
  if (!c.extra_eos_ids.empty())  // optional: an older reader only misses these stop tokens
    w.add_kv("duquant.config.extra_eos_ids", std::vector<uint32_t>(c.extra_eos_ids.begin(), c.extra_eos_ids.end()));
  w.add_kv("duquant.tokenizer.kind", m.tokenizer_kind);
  if (m.tokenizer_kind == "gguf")
    for (const auto& [k, v] : m.tokenizer_kv) w.add_kv(k, v);

  Owned own;
  add_table(w, own, "token_embd.weight", m.embed, m.embed_type);
  add_vec(w, "output_norm.weight", m.final_norm.data(), m.final_norm.size());
  if (!c.tied_embeddings) add_table(w, own, "output.weight", m.lm_head, m.lm_head_type);
  if (m.qk_rotation.size()) add_mat(w, "duquant.qk_rotation", m.qk_rotation);
  if (m.tokenizer_kind != "gguf")
    w.add_blob("duquant.tokenizer", m.tokenizer_kind, {m.tokenizer_bytes.size()},
               bytes_of(reinterpret_cast<const uint8_t*>(m.tokenizer_bytes.data()), m.tokenizer_bytes.size()));
  for (int l = 0; l < c.n_layers; ++l) {
    const QuantLayer& L = m.layers[static_cast<size_t>(l)];
    add_vec(w, blk(l, "attn_norm.weight"), L.attn_norm.data(), L.attn_norm.size());
    add_vec(w, blk(l, "ffn_norm.weight"), L.ffn_norm.data(), L.ffn_norm.size());
    auto lins = linears(L);
    for (int i = 0; i < 7; ++i) {
      add_packed(w, blk(l, kLinearNames[i]), *lins[static_cast<size_t>(i)]);
      const auto& wide = L.wide[static_cast<size_t>(i)];
      if (wide.rows) add_packed(w, blk(l, kLinearNames[i]) + ".wide", wide);
    }
    for (int s = 0; s < kNumSites; ++s) {
      write_site_transform(w, own, blk(l, kSiteNames[s]), L.sites[static_cast<size_t>(s)]);
    }
    if (static_cast<size_t>(l) < m.q.qk_clip_layer.size() && m.q.qk_clip_layer[static_cast<size_t>(l)] > 0.f)
      w.add_kv("duquant." + blk(l, "qk_clip"), m.q.qk_clip_layer[static_cast<size_t>(l)]);
    // Written as held (the reader checks every layer has one of kv_dim values): tests write damaged files.
    if (static_cast<size_t>(l) < m.q.k_center.size() && !m.q.k_center[static_cast<size_t>(l)].empty())
      add_vec(w, blk(l, "attn_k.center"), m.q.k_center[static_cast<size_t>(l)].data(),
              m.q.k_center[static_cast<size_t>(l)].size());
    for (int i = 0; i < 7; ++i) {
      const auto& rc = L.row_clip[static_cast<size_t>(i)];
      if (!rc.empty()) add_vec(w, blk(l, kLinearNames[i]) + ".wclip", rc.data(), rc.size());
    }
  }
  w.add_checksums();
  w.write(path, replace);
}

QuantModelData read_quant_model(const std::string& path, TableLoad tables) {
  GgufFile f = GgufFile::open(path);
  const uint32_t ver = f.get<uint32_t>("duquant.format_version");
  if (ver > kQuantFormatVersion)
    fail(path, ": duquant model format version ", ver, " was written by a newer duquant; this build reads version ",
         kQuantFormatVersion);
  if (ver < 1) fail(path, ": bad duquant model format version ", ver);
  // Before anything else is read: a damaged file fails here, naming the damaged tensor or the header.
  f.verify_checksums();  // throws on a mismatch; files written before the checksums carry none
  QuantModelData m;
  ModelConfig& c = m.cfg;
  auto u = [&](const char* k) { return static_cast<int>(f.get<uint32_t>(k)); };
  c.dim = u("duquant.config.dim");
  c.hidden_dim = u("duquant.config.hidden_dim");
  c.n_layers = u("duquant.config.n_layers");
  c.n_heads = u("duquant.config.n_heads");
  c.n_kv_heads = u("duquant.config.n_kv_heads");
  c.vocab_size = u("duquant.config.vocab_size");
  c.max_seq_len = u("duquant.config.max_seq_len");
  c.rope_theta = f.get<float>("duquant.config.rope_theta");
  c.rms_eps = f.get<float>("duquant.config.rms_eps");
  c.tied_embeddings = f.get<bool>("duquant.config.tied_embeddings");
  const std::string layout = f.get<std::string>("duquant.config.rope_layout");
  if (layout != "interleaved" && layout != "rotate_half") fail(path, ": unknown rope layout '", layout, "'");
  c.rope_layout = layout == "interleaved" ? RopeLayout::Interleaved : RopeLayout::RotateHalf;
  c.bos_id = u("duquant.config.bos_id");
  c.eos_id = u("duquant.config.eos_id");
  if (f.has("duquant.config.head_dim")) c.head_size = u("duquant.config.head_dim");
  if (f.has("duquant.config.sliding_window")) c.sliding_window = u("duquant.config.sliding_window");
  c.context_extendable = f.get_or<bool>("duquant.config.context_extendable", false);
  if (f.has("duquant.config.extra_eos_ids"))
    for (uint32_t id : f.get_array<uint32_t>("duquant.config.extra_eos_ids"))
      c.extra_eos_ids.push_back(static_cast<int>(id));
  if (f.has("duquant.config.rope_scaling")) {
    const std::string t = f.get<std::string>("duquant.config.rope_scaling");
    RopeScaling& rs = c.rope_scaling;
    if (t == "linear" || t == "llama3") {
      rs.type = t == "linear" ? RopeScaling::Type::Linear : RopeScaling::Type::Llama3;
      rs.factor = f.get<float>("duquant.config.rope_scaling_factor");
      if (rs.type == RopeScaling::Type::Llama3) {
        rs.low_freq_factor = f.get<float>("duquant.config.rope_low_freq_factor");
        rs.high_freq_factor = f.get<float>("duquant.config.rope_high_freq_factor");
        rs.original_max_pos = u("duquant.config.rope_original_max_pos");
      }
    } else if (t == "freq_factors") {
      rs.type = RopeScaling::Type::FreqFactors;
      rs.freq_factors = f.get_array<float>("duquant.config.rope_freq_factors");
    } else {
      fail(path, ": unknown rope scaling '", t, "'");
    }
  }
  c.validate(path);
  m.q.method = f.get<std::string>("duquant.method");
  m.q.description = f.get<std::string>("duquant.settings");
  m.q.wbits = u("duquant.wbits");
  m.q.abits = u("duquant.abits");
  m.q.kv_bits = u("duquant.kv_bits");
  m.q.lac = f.get<float>("duquant.lac");
  m.q.qk_clip = f.get<float>("duquant.qk_clip");
  check_clip(path, "duquant.lac", m.q.lac);
  check_clip(path, "duquant.qk_clip", m.q.qk_clip);
  m.q.swc = f.get<float>("duquant.swc");
  auto bits_ok = [](int b) { return (b >= 2 && b <= 8) || b == 16; };
  if (!bits_ok(m.q.wbits) || !bits_ok(m.q.abits) || !bits_ok(m.q.kv_bits))
    fail(path, ": unsupported bit widths W", m.q.wbits, "A", m.q.abits, " KV", m.q.kv_bits);
  if (m.q.wbits == 16) fail(path, ": float weights (W16) are not stored in quantized model files");

  const bool as_stored = tables == TableLoad::AsStored && !c.tied_embeddings;
  table_tensor(f, "token_embd.weight", c.vocab_size, c.dim, m.embed_type);
  if (as_stored && m.embed_type == TableType::Q8_0)
    m.embed_q8_0 = read_table_as_stored<uint8_t>(f, "token_embd.weight", c.vocab_size, c.dim, m.embed_type);
  else m.embed = read_table(f, "token_embd.weight", c.vocab_size, c.dim, m.embed_type);
  m.final_norm = to_vec(read_fvec(f, "output_norm.weight", c.dim));
  if (c.tied_embeddings) {
    m.lm_head_type = m.embed_type;  // the one table is the classifier too
  } else {
    table_tensor(f, "output.weight", c.vocab_size, c.dim, m.lm_head_type);
    if (as_stored && m.lm_head_type == TableType::F16)
      m.lm_head_f16 = read_table_as_stored<uint16_t>(f, "output.weight", c.vocab_size, c.dim, m.lm_head_type);
    else m.lm_head = read_table(f, "output.weight", c.vocab_size, c.dim, m.lm_head_type);
  }
  f.release_all();  // the tables are copied: their mapped pages need not stay resident
  if (f.find_tensor("duquant.qk_rotation"))
    m.qk_rotation = read_mat(f, "duquant.qk_rotation", c.head_dim(), c.head_dim());
  m.tokenizer_kind = f.get<std::string>("duquant.tokenizer.kind");
  if (m.tokenizer_kind == "gguf") {
    for (const auto& [k, v] : f.metadata())
      if (k.rfind("tokenizer.ggml.", 0) == 0) m.tokenizer_kv.emplace_back(k, v);
  } else {
    auto tb = f.blob("duquant.tokenizer");
    m.tokenizer_bytes.assign(reinterpret_cast<const char*>(tb.bytes.data()), tb.bytes.size());
  }

  const auto shapes = linear_shapes(c);
  const auto widths = site_widths(c);
  for (int l = 0; l < c.n_layers; ++l) {
    QuantLayer L;
    L.attn_norm = to_vec(read_fvec(f, blk(l, "attn_norm.weight"), c.dim));
    L.ffn_norm = to_vec(read_fvec(f, blk(l, "ffn_norm.weight"), c.dim));
    auto lins = linears(L);
    for (int i = 0; i < 7; ++i)
      *lins[static_cast<size_t>(i)] = read_packed(f, blk(l, kLinearNames[i]), shapes[static_cast<size_t>(i)].first,
                                                  shapes[static_cast<size_t>(i)].second, m.q.wbits);
    for (int s = 0; s < kNumSites; ++s) {
      L.sites[static_cast<size_t>(s)] =
          read_site_transform(f, blk(l, kSiteNames[s]), widths[static_cast<size_t>(s)], ver);
    }
    for (int i = 0; i < 7; ++i) {
      const auto& wide = L.sites[static_cast<size_t>(site_of_linear(i))].wide;
      const std::string base = blk(l, kLinearNames[i]);
      const bool stored = f.find_tensor(base + ".wide.q") != nullptr;
      if (stored != !wide.empty())
        fail(path, ": ", base,
             (stored ? " has wide columns but its input lists no wide channels"
                     : " has no wide columns (.wide.q) but its input lists wide channels"));
      if (wide.empty()) continue;
      L.wide[static_cast<size_t>(i)] = read_packed(f, base + ".wide", shapes[static_cast<size_t>(i)].first,
                                                   static_cast<int64_t>(wide.size()), kernels::kWideBits);
      check_wide_columns_zero(f, base, *linears(L)[static_cast<size_t>(i)], wide);
    }
    if (f.find_tensor(blk(l, "attn_k.center"))) {
      if (ver < kQuantFormatVersionKeyCenter)
        fail(path, ": ", blk(l, "attn_k.center"), ": key centers need format version ", kQuantFormatVersionKeyCenter,
             " (file says ", ver, ")");
      if (static_cast<int>(m.q.k_center.size()) != l)
        fail(path, ": ", blk(l, "attn_k.center"), ": key centers on some layers only");
      m.q.k_center.push_back(read_fvec(f, blk(l, "attn_k.center"), c.kv_dim()));
    } else if (!m.q.k_center.empty()) {
      fail(path, ": ", blk(l, "attn_k.center"), " is missing (key centers on some layers only)");
    }
    if (f.has("duquant." + blk(l, "qk_clip"))) {
      m.q.qk_clip_layer.resize(static_cast<size_t>(c.n_layers), 0.f);
      m.q.qk_clip_layer[static_cast<size_t>(l)] = f.get<float>("duquant." + blk(l, "qk_clip"));
      check_clip(path, blk(l, "qk_clip"), m.q.qk_clip_layer[static_cast<size_t>(l)]);
    }
    for (int i = 0; i < 7; ++i) {
      const std::string name = blk(l, kLinearNames[i]) + ".wclip";
      if (!f.find_tensor(name)) continue;
      auto& rc = L.row_clip[static_cast<size_t>(i)];
      rc = read_fvec(f, name, shapes[static_cast<size_t>(i)].first);
      for (float v : rc)
        if (!(v > 0.f && v <= 1.f)) fail(path, ": ", name, " holds a clip ratio outside (0, 1]");
    }
    m.layers.push_back(std::move(L));
    f.release_all();  // this block's tensors are copied (re-packed): drop their mapped pages
  }
  return m;
}

void widen_tables(QuantModelData& m) {
  const int64_t V = m.cfg.vocab_size, D = m.cfg.dim;
  if (!m.embed_q8_0.empty()) {
    m.embed = Mat(V, D);
    widen(TableType::Q8_0, m.embed_q8_0.data(), static_cast<size_t>(V * D), m.embed.data());
    m.embed_q8_0 = {};
  }
  if (!m.lm_head_f16.empty()) {
    m.lm_head = Mat(V, D);
    widen(TableType::F16, reinterpret_cast<const uint8_t*>(m.lm_head_f16.data()), static_cast<size_t>(V * D),
          m.lm_head.data());
    m.lm_head_f16 = {};
  }
}

}  // namespace duq::model
