// `--variant paper`: the paper's BlockDiag(R̂_b1, …, R̂_bK), one greedy rotation per block, not one shared R̂.
// On a synthetic model quantized W8A8 with 16-wide blocks: every full block has its own matrix (searched on
// its own channels), the matrices survive the quantized file byte for byte (format version 3), and the
// integer engine run from the file agrees with the simulation run from the same file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "calib/export.h"
#include "calib/pipeline.h"
#include "core/error.h"
#include "core/rng.h"
#include "formats/gguf.h"
#include "model/int_engine.h"
#include "model/quant_model.h"
#include "model/synthetic.h"
#include "test_support.h"
#include "tiny_config.h"

namespace duq::calib {
namespace {

model::ModelConfig tiny() { return test::tiny_config(64, 96, 2, 64, 64); }

QuantizedModel quantize_tiny(transform::SearchVariant v, Method method = Method::DuQuant) {
  const model::ModelConfig c = tiny();
  const model::MemoryWeights src(c, model::random_weights(c, 11));
  std::vector<std::vector<int>> windows;
  Rng rng(5);
  for (int w = 0; w < 3; ++w) {
    windows.emplace_back();
    for (int t = 0; t < 24; ++t) windows.back().push_back(static_cast<int>(rng.below(64)));
  }
  QuantOptions o;
  o.method = method;
  o.wbits = o.abits = 8;
  o.block = 16;
  o.block_explicit = true;
  o.steps = 8;
  o.variant = v;
  o.progress = false;
  return quantize_model(src, windows, o);
}

double max_rel_diff(const Mat& a, const Mat& b) {
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(double(b.data()[i])));
    worst = std::max(worst, std::fabs(double(a.data()[i]) - b.data()[i]));
  }
  return worst / scale;
}

TEST(PerBlockRotation, PaperVariantHasOneMatrixPerBlockThroughTheFile) {
  const QuantizedModel qm = quantize_tiny(transform::SearchVariant::kPaper);
  const model::QuantModelData d = to_file_data(qm, "llama2c", std::string("tok"));
  int distinct = 0;
  for (const auto& L : d.layers)
    for (int s = 0; s < model::kNumSites; ++s) {
      const auto& t = L.sites[static_cast<size_t>(s)];
      ASSERT_EQ(t.kind, model::OnlineTransform::Kind::DuQuant);
      for (const auto& r : t.rotations) {
        const int64_t width = s == 3 ? 96 : 64;
        ASSERT_EQ(static_cast<int64_t>(r.per_block.size()), width / 16);
        EXPECT_EQ(r.full.size(), 0);
        for (size_t k = 1; k < r.per_block.size(); ++k)
          distinct += !std::equal(r.per_block[k].data(), r.per_block[k].data() + 256, r.per_block[0].data());
      }
    }
  EXPECT_GT(distinct, 0) << "every block got the same rotation";

  const auto path = test::temp_dir("per_block_rotation") / "m.gguf";
  model::write_quant_model(path.string(), d);
  EXPECT_EQ(formats::GgufFile::open(path.string()).get<uint32_t>("duquant.format_version"), 3u);
  const model::QuantModelData back = model::read_quant_model(path.string());
  for (size_t l = 0; l < d.layers.size(); ++l)
    for (size_t s = 0; s < model::kNumSites; ++s) {
      const auto& a = d.layers[l].sites[s].rotations;
      const auto& b = back.layers[l].sites[s].rotations;
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].per_block.size(), b[i].per_block.size());
        for (size_t k = 0; k < a[i].per_block.size(); ++k)
          ASSERT_TRUE(std::equal(a[i].per_block[k].data(), a[i].per_block[k].data() + 256, b[i].per_block[k].data()))
              << "layer " << l << " site " << s << " rotation " << i << " block " << k;
      }
    }

  // Integer engine (from the file) against the simulation (from the same file).
  const QuantizedModel sim = simulated_from_file(back);
  model::IntModel eng =
      model::make_int_model(std::make_unique<model::QuantModelData>(back), model::fp32_transform_factory());
  std::vector<int> toks = {1, 7, 22, 3, 40, 9, 13, 60, 2, 31, 17, 5};
  model::KVCache ks(sim.cfg, 32), ke(sim.cfg, 32);
  const Mat a = sim.forward(toks, 0, ks), b = eng.forward(toks, 0, ke);
  EXPECT_LT(max_rel_diff(b, a), 1e-4);  // measured 3e-7 (W8A8, this model); a wrong block matrix gives O(1)
}

// The authors' code (default variant) still shares one R̂ and writes a version-2 file.
TEST(PerBlockRotation, ReferenceVariantSharesOneMatrix) {
  const QuantizedModel qm = quantize_tiny(transform::SearchVariant::kReference);
  const model::QuantModelData d = to_file_data(qm, "llama2c", std::string("tok"));
  for (const auto& r : d.layers[0].sites[0].rotations) {
    EXPECT_TRUE(r.per_block.empty());
    EXPECT_EQ(r.full.rows(), 16);
  }
  const auto path = test::temp_dir("per_block_rotation_ref") / "m.gguf";
  model::write_quant_model(path.string(), d);
  EXPECT_EQ(formats::GgufFile::open(path.string()).get<uint32_t>("duquant.format_version"), 2u);
}

// The randomized Hadamard changed (signs before the mixing, Paley factors): files holding one are version 3, and
// a version-2 file with a Hadamard transform (the old H·diag(s)) is refused instead of silently rebuilt wrong.
TEST(PerBlockRotation, RandomizedHadamardFilesAreVersion3AndOldOnesRefused) {
  const QuantizedModel qm = quantize_tiny(transform::SearchVariant::kReference, Method::Rotation);
  const auto path = test::temp_dir("hadamard_v3") / "m.gguf";
  model::write_quant_model(path.string(), to_file_data(qm, "llama2c", std::string("tok")));
  EXPECT_EQ(formats::GgufFile::open(path.string()).get<uint32_t>("duquant.format_version"), 3u);
  EXPECT_NO_THROW(model::read_quant_model(path.string()));
  // Patch the version to 2: the key, then its type (uint32 = 4) and value.
  std::string bytes = test::read_text(path);
  const std::string key = "duquant.format_version";
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  uint32_t v = 0;
  std::memcpy(&v, bytes.data() + at + key.size() + 4, 4);
  ASSERT_EQ(v, 3u);
  v = 2;
  std::memcpy(bytes.data() + at + key.size() + 4, &v, 4);
  // A file from before the checksums carries none: hide the two keys (renamed in place, the layout stays),
  // or the header checksum would refuse the patched file first.
  for (size_t p = 0; (p = bytes.find("duquant.checksum.xxh3.", p)) != std::string::npos; ++p) bytes[p + 17] = 'X';
  test::write_bytes(path, bytes);
  try {
    model::read_quant_model(path.string());
    ADD_FAILURE() << "a version-2 file with a randomized Hadamard was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("quantize the model again"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace duq::calib
