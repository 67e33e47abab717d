// duquant convert: llama2.c checkpoint → Hugging Face directory (config.json + model.safetensors +
// tokenizer), with W_q/W_k rows permuted to Hugging Face's rotate-half RoPE layout.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "formats/dtype.h"
#include "model/hf_source.h"
#include "model/rope_layout.h"
#include "tools/commands.h"
#include "tools/model_args.h"

namespace duq::tools {
namespace {

namespace fs = std::filesystem;

struct ConvertOpts {
  ModelArgs m;
  std::string out;
  std::string dtype = "f32";
  bool force = false;
};

void run_convert(const ConvertOpts& o) {
  if (fs::is_directory(o.m.model)) fail(o.m.model, ": already a Hugging Face directory; convert reads llama2.c checkpoints");
  const fs::path out = check_output_dir(o.out, "--out", o.force, model_input_paths(o.m));
  auto src = model::open_weights(o.m.model);
  model::ModelConfig cfg = src->config();
  model::ModelWeights w = src->load_all();
  auto tok = load_tokenizer_for(o.m, cfg);  // checked against the vocabulary before anything is written
  model::convert_to_rotate_half(cfg, w);
  const auto dt = o.dtype == "bf16" ? formats::DType::BF16 : o.dtype == "f16" ? formats::DType::F16 : formats::DType::F32;
  // The tokenizer travels with the model, in the form it came in.
  std::string tpath = o.m.tokenizer;
  if (tpath.empty()) {
    fs::path dir = fs::path(o.m.model).parent_path();
    for (auto cand : {dir / "tokenizer.model", dir / "tokenizer.bin", dir / ("tok" + std::to_string(cfg.vocab_size) + ".bin")})
      if (fs::exists(cand)) {
        tpath = cand.string();
        break;
      }
  }
  const bool sp = fs::path(tpath).extension() == ".model";
  std::string bytes = read_regular_file(tpath, "tokenizer");
  if (bytes.empty()) fail(tpath, ": tokenizer file is empty");
  model::write_hf_model(out.string(), cfg, w, dt, o.force, {{sp ? "tokenizer.model" : "tokenizer.bin", std::move(bytes)}});
  std::printf("wrote %s: %s, %s weights, tokenizer %s\n", o.out.c_str(), cfg.summary().c_str(), o.dtype.c_str(),
              sp ? "tokenizer.model" : "tokenizer.bin");
}

DUQ_REGISTER_COMMAND({"convert", "convert a llama2.c checkpoint to a Hugging Face directory", [](CLI::App& app) {
                        auto o = std::make_shared<ConvertOpts>();
                        o->m.add(app);
                        app.add_option("-o,--out", o->out, "output directory")->required();
                        app.add_option("--dtype", o->dtype, "tensor type in model.safetensors")
                            ->check(CLI::IsMember({"f32", "f16", "bf16"}))
                            ->capture_default_str();
                        app.add_flag("--force", o->force, "replace an existing non-empty output directory (one holding model files only)");
                        app.callback([o] { run_convert(*o); });
                      }});

}  // namespace
}  // namespace duq::tools
