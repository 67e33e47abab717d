// What a model path is, from its first bytes (never from its name): so that a command given the wrong kind
// of file says what the file is and which commands take it, instead of misreading it as another format.
#pragma once
#include <string>

namespace duq::formats {

enum class FileKind {
  Missing,      // does not exist
  NotRegular,   // FIFO, device, socket (never opened for reading)
  HfDir,        // a directory (a Hugging Face model directory when it holds config.json)
  GgufDuquant,  // GGUF with duquant.format_version: a quantized duquant model
  GgufFloat,    // any other GGUF (llama.cpp's files)
  Safetensors,  // a bare .safetensors file (u64 header length, then '{')
  Llama2c,      // anything else: read as a llama2.c checkpoint (its header has no magic)
};

FileKind sniff_model_file(const std::string& path);
const char* file_kind_name(FileKind k);  // "llama2c", "gguf-duquant", "gguf-float", "hf-dir", "safetensors", ...

}  // namespace duq::formats
