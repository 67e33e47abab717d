// Hugging Face LLaMA-family model directories: config.json + model.safetensors (or sharded
// model-0000x-of-0000n.safetensors with model.safetensors.index.json).
// Tensor names (PyTorch layout W [out × in], as ModelWeights):
//   model.embed_tokens.weight [V×D]
//   model.layers.{i}.input_layernorm.weight [D], .self_attn.{q,k,v,o}_proj.weight, .post_attention_layernorm.weight,
//   model.layers.{i}.mlp.{gate,up,down}_proj.weight
//   model.norm.weight [D], lm_head.weight [V×D] (absent when tie_word_embeddings)
// Hugging Face rotates RoPE halves, so configs read from here have rope_layout = RotateHalf unless
// config.json carries our own field "duquant_rope_layout": "interleaved" (written for models whose q/k rows
// are still in llama2.c order).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "formats/dtype.h"
#include "model/weights.h"

namespace duq::model {

// Opens `dir`; reads config.json and checks every tensor's presence and shape against it up front.
// Throws duq::Error naming the file (config.json field, tensor + expected vs got shape).
std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir);

// config.json text → ModelConfig. `source` names the file in errors. Reads rope_theta, rope_scaling (linear,
// llama3), GQA, tie_word_embeddings, head_dim, Mistral's sliding_window; rejects architectures other than
// LLaMA/Mistral, other rope_scaling types, biases and activations other than SiLU, each by name.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);
// BOS/EOS ids from generation_config.json (over config.json's) or, where neither has one,
// tokenizer_config.json's bos_token / eos_token; `config` is config.json's object.
void apply_special_token_files(ModelConfig& c, const std::string& dir, const nlohmann::json& config);
// A config.json rope_scaling object (not null) → RopeScaling; unknown types refused by name.
RopeScaling parse_rope_scaling(const nlohmann::json& rope_scaling, const std::string& source);
// ModelConfig → config.json text that parse_hf_config reads back to the same config.
std::string hf_config_json(const ModelConfig& c, formats::DType dtype);

// Writes config.json, model.safetensors and `extra_files` (name → bytes, e.g. the tokenizer) into a
// directory built beside `dir` and swapped in when complete (core/atomic_file.h StagedDir). Refuses a
// directory that exists and is not empty unless `force`, and then one holding anything but model files.
// dtype: F32, F16 or BF16; a finite value beyond float16's ±65504 is refused for F16, naming the tensor.
void write_hf_model(const std::string& dir, const ModelConfig& c, const ModelWeights& w, formats::DType dtype,
                    bool force = false, const std::vector<std::pair<std::string, std::string>>& extra_files = {});
// The same from a WeightSource (config and tensors), one block in memory at a time: each tensor is read from
// `src` when its turn to be written comes.
void write_hf_model(const std::string& dir, const WeightSource& src, formats::DType dtype, bool force = false,
                    const std::vector<std::pair<std::string, std::string>>& extra_files = {});

}  // namespace duq::model
