// The quantized model file's two V×D float tables (token_embd.weight, output.weight) stored as F32, F16 or
// Q8_0: each combination round-trips (F32 exactly, F16 as its round-to-nearest-even values, Q8_0 as the
// codec's decode) with the type recorded in the file; values beyond f16, a dim Q8_0 cannot block, a table of
// the wrong shape and a truncated table give clear errors naming the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/rng.h"
#include "formats/dtype.h"
#include "formats/gguf.h"
#include "formats/q8_0.h"
#include "kernels/int_gemm.h"
#include "model/quant_model.h"
#include "test_support.h"

namespace duq::model {
namespace {

namespace fs = std::filesystem;

// A tiny W4A4 model (dim 64, vocab 50, untied unless asked) with random packed weights and no transforms.
QuantModelData tiny_model(bool tied, int dim = 64) {
  Rng rng(9);
  QuantModelData d;
  ModelConfig& c = d.cfg;
  c.dim = dim, c.hidden_dim = 96, c.n_layers = 1, c.n_heads = dim / 8, c.n_kv_heads = dim / 8, c.vocab_size = 50;
  c.max_seq_len = 64, c.tied_embeddings = tied;
  d.q.method = "rtn";
  d.q.description = "test";
  d.tokenizer_kind = "llama2c";
  d.tokenizer_bytes = "tok";
  d.embed = test::random_normal_mat(c.vocab_size, c.dim, 1.0, rng);
  d.embed(3, 5) = 1.0f + std::ldexp(1.0f, -11);  // f16: a tie that rounds to even (1.0)
  d.embed(4, 0) = 65504.f;                       // f16: the largest finite value, kept exactly
  d.embed(4, 1) = std::ldexp(1.0f, -24);         // f16: the smallest subnormal
  if (!tied) d.lm_head = test::random_normal_mat(c.vocab_size, c.dim, 0.1, rng);
  d.final_norm.assign(static_cast<size_t>(c.dim), 1.f);
  auto pack = [&](int64_t n, int64_t k) {
    return kernels::quantize_pack_weights(test::random_normal_mat(n, k, 0.1, rng), 4);
  };
  QuantLayer L;
  L.attn_norm.assign(static_cast<size_t>(c.dim), 1.f);
  L.ffn_norm.assign(static_cast<size_t>(c.dim), 1.f);
  L.wq = pack(c.q_dim(), c.dim), L.wk = pack(c.kv_dim(), c.dim), L.wv = pack(c.kv_dim(), c.dim);
  L.wo = pack(c.dim, c.q_dim());
  L.w_gate = pack(c.hidden_dim, c.dim), L.w_up = pack(c.hidden_dim, c.dim), L.w_down = pack(c.dim, c.hidden_dim);
  d.layers.push_back(std::move(L));
  return d;
}

// What a table stored as `t` reads back as.
Mat stored(const Mat& m, TableType t) {
  Mat r(m.rows(), m.cols());
  const size_t n = static_cast<size_t>(m.size());
  if (t == TableType::F32) return m;
  if (t == TableType::F16) {
    for (size_t i = 0; i < n; ++i) r.data()[i] = formats::f16_to_f32(formats::f32_to_f16(m.data()[i]));
  } else {
    std::vector<uint8_t> b(n / 32 * 34);
    formats::q8_0_encode(m.data(), n, b.data(), "test");
    formats::q8_0_decode(b.data(), n, r.data());
  }
  return r;
}

void expect_equal(const Mat& a, const Mat& b, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << what << " at " << i;
}

std::string read_error(const fs::path& p) {
  try {
    read_quant_model(p.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string write_error(const fs::path& p, const QuantModelData& d) {
  try {
    write_quant_model(p.string(), d);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(QuantModelTables, EveryEmbedAndOutputTypeRoundTrips) {
  const fs::path dir = test::temp_dir("quant_model_tables");
  const TableType types[] = {TableType::F32, TableType::F16, TableType::Q8_0};
  uintmax_t size_f32 = 0, size_small = 0;
  for (TableType et : types)
    for (TableType ot : {TableType::F32, TableType::F16}) {
      QuantModelData d = tiny_model(false);
      d.embed_type = et, d.lm_head_type = ot;
      const std::string what = std::string("embed ") + table_type_name(et) + ", output " + table_type_name(ot);
      const fs::path p = dir / (std::string(table_type_name(et)) + "_" + table_type_name(ot) + ".gguf");
      write_quant_model(p.string(), d);
      const QuantModelData r = read_quant_model(p.string());
      EXPECT_EQ(r.embed_type, et) << what;
      EXPECT_EQ(r.lm_head_type, ot) << what;
      expect_equal(r.embed, stored(d.embed, et), what + ": embedding");
      expect_equal(r.lm_head, stored(d.lm_head, ot), what + ": classifier");
      // The GGUF tensor type is what records the choice.
      auto f = formats::GgufFile::open(p);
      const formats::GgmlType gt[] = {formats::GgmlType::F32, formats::GgmlType::F16, formats::GgmlType::Q8_0};
      EXPECT_EQ(f.tensor("token_embd.weight").type, gt[static_cast<int>(et)]) << what;
      EXPECT_EQ(f.tensor("output.weight").type, gt[static_cast<int>(ot)]) << what;
      if (et == TableType::F32 && ot == TableType::F32) size_f32 = fs::file_size(p);
      if (et == TableType::Q8_0 && ot == TableType::F16) size_small = fs::file_size(p);
    }
  // 50×64 tables: f32 12800 B each; q8_0 100 blocks × 34 = 3400 B (padded to 3424, the 32-byte alignment),
  // f16 6400 B.
  EXPECT_EQ(size_f32 - size_small, (12800u - 3424u) + (12800u - 6400u));
  // Known f16 values in the embedding as stored in F16.
  QuantModelData d = tiny_model(false);
  d.embed_type = TableType::F16;
  write_quant_model((dir / "f16.gguf").string(), d);
  const QuantModelData r = read_quant_model((dir / "f16.gguf").string());
  EXPECT_EQ(r.embed(3, 5), 1.0f);
  EXPECT_EQ(r.embed(4, 0), 65504.f);
  EXPECT_EQ(r.embed(4, 1), std::ldexp(1.0f, -24));
}

// TableLoad::AsStored (the integer engine's read): an untied Q8_0 embedding arrives as its blocks and an F16
// classifier as its halves, nothing widened; widen_tables() then gives exactly the Widened read. Other types
// and tied tables arrive widened either way. A file read as stored is not written back unwidened.
TEST(QuantModelTables, AsStoredKeepsQ8EmbeddingAndHalfClassifierAndWidensToTheSameValues) {
  const fs::path dir = test::temp_dir("quant_model_tables_stored");
  for (TableType et : {TableType::F32, TableType::F16, TableType::Q8_0})
    for (bool tied : {false, true}) {
      QuantModelData d = tiny_model(tied);
      d.embed_type = et;
      d.lm_head_type = TableType::F16;
      const std::string what = std::string("embed ") + table_type_name(et) + (tied ? ", tied" : "");
      const fs::path p = dir / (std::string(table_type_name(et)) + (tied ? "_tied" : "") + ".gguf");
      write_quant_model(p.string(), d);
      const QuantModelData wide = read_quant_model(p.string());
      QuantModelData narrow = read_quant_model(p.string(), TableLoad::AsStored);
      const bool q8 = !tied && et == TableType::Q8_0, half = !tied;
      EXPECT_EQ(narrow.embed_q8_0.size(), q8 ? 50u * 2 * 34 : 0u) << what;  // 50 rows × 2 blocks × 34 bytes
      EXPECT_EQ(narrow.embed.size(), q8 ? 0 : 50 * 64) << what;
      EXPECT_EQ(narrow.lm_head_f16.size(), half ? 50u * 64 : 0u) << what;
      EXPECT_EQ(narrow.lm_head.size(), 0) << what;  // F16: as halves; tied: none
      EXPECT_EQ(narrow.embed_type, et) << what;
      if (q8 || half) {
        EXPECT_DEATH(write_quant_model((dir / "x.gguf").string(), narrow), "widen_tables first") << what;
      }
      widen_tables(narrow);
      expect_equal(narrow.embed, wide.embed, what + ": embedding");
      expect_equal(narrow.lm_head, wide.lm_head, what + ": classifier");
      EXPECT_TRUE(narrow.embed_q8_0.empty() && narrow.lm_head_f16.empty()) << what;
    }
}

TEST(QuantModelTables, TiedTableIsStoredAtEmbedType) {
  const fs::path dir = test::temp_dir("quant_model_tables_tied");
  QuantModelData d = tiny_model(true);
  d.embed_type = TableType::Q8_0;
  write_quant_model((dir / "t.gguf").string(), d);
  const QuantModelData r = read_quant_model((dir / "t.gguf").string());
  EXPECT_EQ(r.embed_type, TableType::Q8_0);
  EXPECT_EQ(r.lm_head.size(), 0);
  expect_equal(r.embed, stored(d.embed, TableType::Q8_0), "tied embedding");
  EXPECT_EQ(formats::GgufFile::open(dir / "t.gguf").find_tensor("output.weight"), nullptr);
}

TEST(QuantModelTables, WriterRefusesWhatTheTypeCannotHold) {
  const fs::path dir = test::temp_dir("quant_model_tables_writer");
  QuantModelData d = tiny_model(false);
  d.lm_head_type = TableType::F16;
  d.lm_head(7, 2) = 70000.f;
  EXPECT_NE(
      write_error(dir / "big.gguf", d).find("tensor output.weight: value 70000 at [7, 2] is outside the f16 range"),
      std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "big.gguf"));
  d.lm_head(7, 2) = 65519.f;  // rounds to 65504: representable
  write_quant_model((dir / "ok.gguf").string(), d);
  EXPECT_EQ(read_quant_model((dir / "ok.gguf").string()).lm_head(7, 2), 65504.f);

  QuantModelData odd = tiny_model(false, 40);  // dim 40: not a multiple of the Q8_0 block
  odd.embed_type = TableType::Q8_0;
  EXPECT_NE(write_error(dir / "odd.gguf", odd).find("tensor token_embd.weight: Q8_0 needs rows of a multiple of 32"),
            std::string::npos);
  odd.embed_type = TableType::F16;
  write_quant_model((dir / "odd.gguf").string(), odd);
  EXPECT_EQ(read_quant_model((dir / "odd.gguf").string()).embed_type, TableType::F16);
}

TEST(QuantModelTables, WrongSizeOrTruncatedTableIsAClearError) {
  const fs::path dir = test::temp_dir("quant_model_tables_reader");
  for (TableType t : {TableType::F32, TableType::F16, TableType::Q8_0}) {
    const std::string tn = table_type_name(t);
    // One vocabulary row short of the config.
    QuantModelData d = tiny_model(false);
    d.embed_type = t;
    Mat shorter(d.embed.rows() - 1, d.embed.cols());
    std::copy(d.embed.data(), d.embed.data() + shorter.size(), shorter.data());
    d.embed = shorter;
    const fs::path p = dir / ("short_" + tn + ".gguf");
    write_quant_model(p.string(), d);
    std::string e = read_error(p);
    EXPECT_NE(e.find("tensor token_embd.weight is "), std::string::npos) << e;
    EXPECT_NE(e.find("[64, 49], expected [64, 50]"), std::string::npos) << e;

    // The classifier's bytes cut off by a truncated file.
    QuantModelData g = tiny_model(false);
    g.lm_head_type = t == TableType::Q8_0 ? TableType::F16 : t;
    g.embed_type = t;
    const fs::path good = dir / ("good_" + tn + ".gguf");
    write_quant_model(good.string(), g);
    uint64_t cut = 0;
    {
      auto f = formats::GgufFile::open(good);
      const auto& out = f.tensor("output.weight");
      cut = f.data_offset() + out.offset + out.nbytes / 2;
    }
    test::write_bytes(dir / ("cut_" + tn + ".gguf"), test::read_text(good).substr(0, cut));
    e = read_error(dir / ("cut_" + tn + ".gguf"));
    EXPECT_NE(e.find("tensor 'output.weight'"), std::string::npos) << e;
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace duq::model
