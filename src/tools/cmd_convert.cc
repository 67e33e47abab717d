// duquant convert: llama2.c checkpoint or llama.cpp GGUF model → Hugging Face directory (config.json +
// model.safetensors + tokenizer), with W_q/W_k rows permuted to Hugging Face's rotate-half RoPE layout;
// or any float model (Hugging Face directory included) → a GGUF file in llama.cpp's layout (--out X.gguf,
// model/gguf_export.h), which llama.cpp's llama-quantize and llama-bench take.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_checks.h"
#include "formats/dtype.h"
#include "formats/gguf.h"
#include "model/gguf_export.h"
#include "model/gguf_tokenizer.h"
#include "model/hf_source.h"
#include "model/rope_layout.h"
#include "model/sp_tokenizer.h"
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

// (file name, bytes) of the tokenizer to ship beside the converted weights.
std::pair<std::string, std::string> tokenizer_file_bytes(const TokenizerLocation& t) {
  auto read_all = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (b.empty()) fail(p.string(), ": cannot read tokenizer");
    return b;
  };
  if (t.kind != "gguf") {
    const char* name = t.kind == "sentencepiece"    ? "tokenizer.model"
                       : t.kind == "tokenizer.json" ? "tokenizer.json"
                                                    : "tokenizer.bin";
    return {name, read_all(t.path)};
  }
  formats::GgufWriter vw;  // GgufWriter writes files only: through a private temporary folder
  vw.add_kv("general.architecture", "llama");
  for (auto& [k, v] : model::gguf_tokenizer_kv(formats::GgufFile::open(t.path))) vw.add_kv(k, v);
  std::string tmpl = (fs::temp_directory_path() / "duquant-vocab.XXXXXX").string();
  if (!mkdtemp(tmpl.data())) fail(tmpl, ": cannot create a temporary folder for the vocabulary");
  const fs::path dir(tmpl);
  try {
    vw.write(dir / "tokenizer.gguf");
    auto b = read_all(dir / "tokenizer.gguf");
    fs::remove_all(dir);
    return {"tokenizer.gguf", std::move(b)};
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw;
  }
}

bool gguf_output(const std::string& out) { return fs::path(out).extension() == ".gguf"; }

// The model's vocabulary as llama.cpp's tokenizer.ggml.* keys.
model::GgufKeyValues llama_vocab_for(const TokenizerLocation& t, const model::ModelConfig& cfg) {
  if (t.kind == "gguf") return model::gguf_tokenizer_kv(formats::GgufFile::open(t.path));
  if (t.kind == "sentencepiece") return model::llama_vocab_kv_from_sentencepiece(t.path, cfg.bos_id, cfg.eos_id);
  if (t.kind == "llama2c") return model::llama_vocab_kv_from_llama2c(t.path, cfg.bos_id, cfg.eos_id);
  fail(t.path, ": a ", t.kind,
       " vocabulary (byte-level BPE) is not written to llama.cpp GGUF by duquant; use llama.cpp's "
       "convert_hf_to_gguf.py for such models, or pass a SentencePiece tokenizer.model / llama2.c tokenizer.bin "
       "with --tokenizer");
}

// Any float model → one GGUF file in llama.cpp's layout.
void run_convert_to_gguf(const ConvertOpts& o) {
  if (o.dtype == "bf16") fail("--dtype bf16: llama.cpp GGUF output is written as f32 or f16");
  const fs::path out = check_output_file(o.out, "--out", o.force, model_input_paths(o.m));
  auto src = model::open_weights(o.m.model);
  const model::ModelConfig cfg = src->config();
  auto tok = load_tokenizer_for(o.m, cfg);  // checked against the vocabulary before anything is written
  const auto vocab = llama_vocab_for(find_tokenizer(o.m, cfg), cfg);
  model::write_llama_gguf(out.string(), cfg, src->load_all(),
                          o.dtype == "f16" ? formats::GgmlType::F16 : formats::GgmlType::F32, vocab,
                          o.force ? Replace::IfRegular : Replace::No);
  std::printf("wrote %s: %s, %s weights, llama.cpp GGUF layout (vocabulary of %d tokens)\n", o.out.c_str(),
              cfg.summary().c_str(), o.dtype.c_str(), cfg.vocab_size);
}

void run_convert(const ConvertOpts& o) {
  if (gguf_output(o.out)) return run_convert_to_gguf(o);
  if (fs::is_directory(o.m.model))
    fail(o.m.model, ": already a Hugging Face directory; convert reads llama2.c checkpoints and GGUF models");
  const fs::path out = check_output_dir(o.out, "--out", o.force, model_input_paths(o.m));
  auto src = model::open_weights(o.m.model);
  model::ModelConfig cfg = src->config();
  model::ModelWeights w = src->load_all();
  auto tok = load_tokenizer_for(o.m, cfg);  // checked against the vocabulary before anything is written
  model::convert_to_rotate_half(cfg, w);
  const auto dt = o.dtype == "bf16"  ? formats::DType::BF16
                  : o.dtype == "f16" ? formats::DType::F16
                                     : formats::DType::F32;
  // The tokenizer travels with the model, in the form it came in (a GGUF vocabulary as a vocabulary-only GGUF),
  // inside the staged directory: the model appears with its tokenizer or not at all.
  const auto [name, bytes] = tokenizer_file_bytes(find_tokenizer(o.m, cfg));
  model::write_hf_model(out.string(), cfg, w, dt, o.force, {{name, bytes}});
  std::printf("wrote %s: %s, %s weights, tokenizer %s\n", o.out.c_str(), cfg.summary().c_str(), o.dtype.c_str(),
              name.c_str());
}

DUQ_REGISTER_COMMAND({"convert",
                      "convert a llama2.c checkpoint or GGUF model to a Hugging Face directory, or any float model to "
                      "a llama.cpp GGUF (--out X.gguf)",
                      [](CLI::App& app) {
                        auto o = std::make_shared<ConvertOpts>();
                        o->m.add(app);
                        app.add_option("-o,--out", o->out,
                                       "output directory, or a file ending in .gguf: llama.cpp's GGUF layout")
                            ->required();
                        app.add_option("--dtype", o->dtype, "tensor type of the weights (GGUF output: f32 or f16)")
                            ->check(CLI::IsMember({"f32", "f16", "bf16"}))
                            ->capture_default_str();
                        app.add_flag("--force", o->force,
                                     "replace an existing output (a non-empty directory must hold model files only)");
                        app.callback([o] { run_convert(*o); });
                      }});

}  // namespace
}  // namespace duq::tools
