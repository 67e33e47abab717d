// duquant synth: a Hugging Face LLaMA directory with random weights (for tests, benchmarks and trying
// the pipeline on shapes no bundled model has).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/progress.h"
#include "formats/dtype.h"
#include "model/hf_source.h"
#include "model/synthetic.h"
#include "tools/commands.h"

namespace duq::tools {
namespace {

struct SynthOpts {
  std::string out;
  int dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, max_seq = 2048;
  std::string dtype = "f32";
  uint64_t seed = 0;
  bool force = false;
  bool tied = false;
};

void run_synth(const SynthOpts& o) {
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
  if (o.dtype == "f32")
    dt = formats::DType::F32;
  else if (o.dtype == "bf16")
    dt = formats::DType::BF16;
  else if (o.dtype == "f16")
    dt = formats::DType::F16;
  else
    fail("--dtype must be f32, bf16 or f16 (got '", o.dtype, "')");

  Timer t;
  const model::ModelWeights w = model::random_weights(c, o.seed);
  model::write_hf_model(o.out, c, w, dt, o.force);
  const auto bytes = std::filesystem::file_size(std::filesystem::path(o.out) / "model.safetensors");
  std::printf("wrote %s: %lld parameters (%.2f M), model.safetensors %.2f MB as %s, seed %llu, %.1f s\n",
              o.out.c_str(), c.n_params(), c.n_params() / 1e6, bytes / 1e6,
              std::string(formats::dtype_name(dt)).c_str(), static_cast<unsigned long long>(o.seed), t.seconds());
}

DUQ_REGISTER_COMMAND({"synth", "write a Hugging Face LLaMA directory with random weights", [](CLI::App& app) {
                        auto o = std::make_shared<SynthOpts>();
                        app.add_option("--out", o->out, "output directory (created)")->required();
                        app.add_option("--dim", o->dim, "residual width (hidden_size)")->required();
                        app.add_option("--hidden", o->hidden, "SwiGLU width (intermediate_size)")->required();
                        app.add_option("--layers", o->layers, "number of blocks")->required();
                        app.add_option("--heads", o->heads, "query heads")->required();
                        app.add_option("--kv-heads", o->kv_heads, "key/value heads (default: --heads)");
                        app.add_option("--vocab", o->vocab, "vocabulary size")->required();
                        app.add_option("--max-seq", o->max_seq, "context length")->capture_default_str();
                        app.add_option("--dtype", o->dtype, "storage type: f32, bf16 or f16")->capture_default_str();
                        app.add_option("--seed", o->seed, "random seed")->capture_default_str();
                        app.add_flag("--tied", o->tied, "share the embedding matrix with the classifier");
                        app.add_flag("--force", o->force, "overwrite a non-empty output directory");
                        app.callback([o] { run_synth(*o); });
                      }});

}  // namespace
}  // namespace duq::tools
