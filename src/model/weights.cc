#include "model/weights.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/file_checks.h"
#include "formats/file_kind.h"
#include "model/gguf_source.h"
#include "model/hf_source.h"
#include "model/llama2c_source.h"
#include "model/quant_model.h"

namespace duq::model {

void check_finite(std::span<const float> v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail(what, ": element ", i, " is ", v[i], " (NaN or Inf in the weights)");
}

ModelWeights WeightSource::load_all() const {
  const auto& c = config();
  const std::string src = description();
  ModelWeights w;
  w.embed = embedding();
  check_finite(w.embed.flat(), src + ": token embedding");
  w.layers.reserve(static_cast<size_t>(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    w.layers.push_back(layer(l));
    const auto& L = w.layers.back();
    const std::string p = src + ": layer " + std::to_string(l) + " ";
    check_finite(L.attn_norm, p + "attention norm");
    check_finite(L.wq.flat(), p + "wq");
    check_finite(L.wk.flat(), p + "wk");
    check_finite(L.wv.flat(), p + "wv");
    check_finite(L.wo.flat(), p + "wo");
    check_finite(L.ffn_norm, p + "ffn norm");
    check_finite(L.w_gate.flat(), p + "w_gate");
    check_finite(L.w_up.flat(), p + "w_up");
    check_finite(L.w_down.flat(), p + "w_down");
  }
  w.final_norm = final_norm();
  check_finite(w.final_norm, src + ": final norm");
  w.lm_head = lm_head();
  check_finite(w.lm_head.flat(), src + ": lm_head");
  return w;
}

std::unique_ptr<WeightSource> open_weights(const std::string& path) {
  namespace fs = std::filesystem;
  using formats::FileKind;
  switch (formats::sniff_model_file(path)) {
    case FileKind::Missing: fail(path, ": model not found");
    case FileKind::NotRegular: require_regular_file(path, "model"); break;  // throws, naming what it is
    case FileKind::GgufDuquant:
      fail(path,
           ": is a quantized duquant model (.gguf); `ppl` and `generate` run it, while quantize, convert, "
           "compare and inspect take a float model (llama2.c checkpoint, Hugging Face directory, llama.cpp GGUF)");
    case FileKind::Safetensors:
      fail(path, ": is a bare .safetensors file; give the Hugging Face directory that holds it and its config.json");
    default: break;
  }
  if (fs::is_directory(path)) {
    if (!fs::exists(fs::path(path) / "config.json"))
      fail(path, ": directory has no config.json (expected a Hugging Face model directory)");
    return open_hf_weights(path);
  }
  if (is_gguf_file(path)) {
    if (gguf_kind(path) == GgufKind::Quantized)
      fail(path,
           ": a quantized duquant model; this command reads float models (llama2.c .bin, Hugging Face "
           "directory, llama.cpp GGUF) — run quantized files with ppl / generate");
    return open_gguf_weights(path);
  }
  return open_llama2c_weights(path);
}

}  // namespace duq::model
