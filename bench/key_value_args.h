// The command line of the one-shot report programs (outlier_bench, pipeline_bench): key=value arguments,
// each program's keys and defaults documented in its header; and the model shape they share.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/error.h"
#include "model/config.h"

namespace duq::bench {

struct KeyValueArgs {
  std::map<std::string, std::string> kv;
  double num(const std::string& k, double def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atof(it->second.c_str());
  }
  std::string str(const std::string& k, const std::string& def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
};

// A LLaMA-2-7B-block-shaped model (dim 4096, hidden 11008, 32 heads, 2 layers, vocab 1000 unless the keys
// dim / hidden / heads / layers / vocab say otherwise), untied classifier, rotate-half RoPE.
inline model::ModelConfig llama7b_block_config(const KeyValueArgs& a, int max_seq_len) {
  model::ModelConfig c;
  c.dim = static_cast<int>(a.num("dim", 4096));
  c.hidden_dim = static_cast<int>(a.num("hidden", 11008));
  c.n_heads = c.n_kv_heads = static_cast<int>(a.num("heads", 32));
  c.n_layers = static_cast<int>(a.num("layers", 2));
  c.vocab_size = static_cast<int>(a.num("vocab", 1000));
  c.max_seq_len = max_seq_len;
  c.tied_embeddings = false;
  c.rope_layout = model::RopeLayout::RotateHalf;
  return c;
}

// Parses argv into key=value pairs and runs `run` on them; usage (exit 2) on an argument without '=', a
// duq::Error's message (exit 1) when the run fails.
template <class Run>
int run_with_key_value_args(int argc, char** argv, const char* source, Run run) {
  KeyValueArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const auto eq = s.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "usage: %s [key=value ...] (see the header of %s)\n", argv[0], source);
      return 2;
    }
    a.kv[s.substr(0, eq)] = s.substr(eq + 1);
  }
  try {
    return run(a);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace duq::bench
