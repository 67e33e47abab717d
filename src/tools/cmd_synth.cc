// duquant synth: a Hugging Face LLaMA directory with random weights (for tests, benchmarks and trying
// the pipeline on shapes no bundled model has). Optionally with planted normal and massive activation outliers
// (model/outliers.h), deterministic for the seed.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/file_checks.h"
#include "core/progress.h"
#include "formats/dtype.h"
#include "model/hf_source.h"
#include "model/outliers.h"
#include "model/synthetic.h"
#include "tools/commands.h"
#include "tools/option_checks.h"

namespace duq::tools {
namespace {

// Longest context a synthetic config may declare (the KV cache grows with use, but keep configs sane).
constexpr int kMaxSeq = 1 << 22;

struct SynthOpts {
  std::string out;
  int dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, max_seq = 2048;
  std::string dtype = "f32";
  uint64_t seed = 0;
  bool force = false;
  bool tied = false;
  // Planted outliers (model/outliers.h).
  int outlier_channels = 0;
  float outlier_scale = 20.f, outlier_gamma = 0.f;
  std::string massive_tokens;
  float massive_scale = 300.f;
};

void run_synth(const SynthOpts& o) {
  const std::filesystem::path out = check_output_dir(o.out, "--out", o.force, {});
  model::ModelConfig c;
  c.dim = o.dim;
  c.hidden_dim = o.hidden;
  c.n_layers = o.layers;
  c.n_heads = o.heads;
  c.n_kv_heads = o.kv_heads > 0 ? o.kv_heads : o.heads;
  c.vocab_size = o.vocab;
  c.max_seq_len = o.max_seq;
  c.rope_theta = 10000.f;
  c.rms_eps = 1e-5f;
  c.tied_embeddings = o.tied;
  c.rope_layout = model::RopeLayout::RotateHalf;  // what a Hugging Face directory means
  c.bos_id = 1;
  c.eos_id = 2;
  c.validate("duquant synth");
  if (c.vocab_size < 3) fail("duquant synth: --vocab must be at least 3 (BOS = 1, EOS = 2)");

  formats::DType dt;
  if (o.dtype == "f32") dt = formats::DType::F32;
  else if (o.dtype == "bf16") dt = formats::DType::BF16;
  else if (o.dtype == "f16") dt = formats::DType::F16;
  else fail("--dtype must be f32, bf16 or f16 (got '", o.dtype, "')");

  Timer t;
  model::OutlierSpec spec;
  spec.channels = o.outlier_channels;
  spec.scale = o.outlier_scale;
  spec.weight_compensation = o.outlier_gamma;
  if (!o.massive_tokens.empty()) spec.massive_tokens = model::parse_id_list(o.massive_tokens, "--massive-tokens");
  spec.massive_scale = o.massive_scale;
  spec.seed = o.seed;
  if (!spec.any()) {
    // Streamed: each tensor drawn when the writer reaches it, one block in memory (a 7B shape in f32 would be
    // ~27 GB at once).
    model::write_hf_model(out.string(), model::RandomWeights(c, o.seed), dt, o.force);
  } else {
    // Planting outliers changes weights across blocks together: the model is built whole (outlier models are
    // small test models).
    model::ModelWeights w = model::random_weights(c, o.seed);
    const model::OutlierPlan plan = model::plant_outliers(c, w, spec);
    std::printf("planted outliers: %s\n", spec.describe().c_str());
    if (!plan.residual_channels.empty()) {
      std::printf("  normal outlier channels: residual");
      for (int j : plan.residual_channels) std::printf(" %d", j);
      std::printf("; v rows");
      for (int j : plan.v_rows) std::printf(" %d", j);
      std::printf("; hidden");
      for (int j : plan.hidden_channels) std::printf(" %d", j);
      std::printf("\n");
    }
    if (plan.massive_channel >= 0) {
      std::printf(
          "  massive: residual channel %d (xn_c ~ %.1f), gate/up ~ %.2f, median |act| ~ %.3f, hidden h* per layer",
          plan.massive_channel, plan.xi, plan.gate_value, plan.median_act);
      for (int h : plan.massive_hidden) std::printf(" %d", h);
      std::printf("\n");
    }
    model::write_hf_model(out.string(), c, w, dt, o.force);
  }
  const auto bytes = std::filesystem::file_size(std::filesystem::path(o.out) / "model.safetensors");
  std::printf("wrote %s: %lld parameters (%.2f M), model.safetensors %.2f MB as %s, seed %llu, %.1f s\n", o.out.c_str(),
              c.n_params(), c.n_params() / 1e6, bytes / 1e6, std::string(formats::dtype_name(dt)).c_str(),
              static_cast<unsigned long long>(o.seed), t.seconds());
}

DUQ_REGISTER_COMMAND(
    {"synth", "write a Hugging Face LLaMA directory with random weights", [](CLI::App& app) {
       auto o = std::make_shared<SynthOpts>();
       app.add_option("--out", o->out, "output directory (created)")->required();
       app.add_option("--dim", o->dim, "residual width (hidden_size)")->required()->check(Range(1, 1 << 16));
       app.add_option("--hidden", o->hidden, "SwiGLU width (intermediate_size)")->required()->check(Range(1, 1 << 18));
       app.add_option("--layers", o->layers, "number of blocks")->required()->check(Range(1, 1024));
       app.add_option("--heads", o->heads, "query heads")->required()->check(Range(1, 1024));
       app.add_option("--kv-heads", o->kv_heads, "key/value heads (default: --heads)")->check(Range(1, 1024));
       app.add_option("--vocab", o->vocab, "vocabulary size")->required()->check(Range(3, 1 << 22));
       app.add_option("--max-seq", o->max_seq, "context length")->capture_default_str()->check(Range(2, kMaxSeq));
       app.add_option("--dtype", o->dtype, "storage type: f32, bf16 or f16")
           ->capture_default_str()
           ->check(CLI::IsMember({"f32", "bf16", "f16"}));
       app.add_option("--seed", o->seed, "random seed")->capture_default_str()->check(RangeU64(0, UINT64_MAX));
       app.add_flag("--tied", o->tied, "share the embedding matrix with the classifier");
       app.add_option("--outlier-channels", o->outlier_channels,
                      "normal outliers: channels k times larger in every token at each linear input")
           ->capture_default_str()
           ->check(Range(0, 1 << 16));
       app.add_option("--outlier-scale", o->outlier_scale, "normal outliers: k")
           ->capture_default_str()
           ->check(RangeOpenLow(0.0, 1e4));
       app.add_option("--outlier-gamma", o->outlier_gamma,
                      "normal outliers: consumer columns times k^-gamma (0 none, 1 function-preserving)")
           ->capture_default_str()
           ->check(Range(0.0, 1.0));
       app.add_option("--massive-tokens", o->massive_tokens,
                      "massive outliers: trigger token ids, comma-separated (e.g. 1,13)");
       app.add_option("--massive-scale", o->massive_scale,
                      "massive outliers: value at the down-projection input / its median")
           ->capture_default_str()
           ->check(RangeOpenLow(0.0, 1e6));
       app.add_flag("--force", o->force, "replace a non-empty output directory (one holding model files only)");
       app.callback([o] { run_synth(*o); });
     }});

}  // namespace
}  // namespace duq::tools
