// `duquant bench e2e`: end-to-end prefill and decode tokens/s of a synthetic LLaMA-shaped model (TinyLlama-
// 1.1B shape by default) in the float engine and the W4A4 integer engine, at one or more thread counts (one thread:
// pinned); and the model file sizes (f32 safetensors vs the W4A4 .gguf). --wbits/--abits measure another integer format
// (W8A8); the JSON's "w4a4_*" keys then hold that format's figures and "bits" names it.
#pragma once
#include <string>
#include <vector>

namespace duq::tools {

struct E2eBenchOptions {
  bool json = false;
  int layers = 22, dim = 2048, hidden = 5632, heads = 32, kv_heads = 4, vocab = 32000;
  int prefill = 512;             // prefill tokens
  int prompt = 64, decode = 64;  // decode: `decode` single-token steps after a `prompt`-token prefill
  int reps = 1;                  // medians over this many runs per measurement
  std::string method = "duquant";
  int wbits = 4, abits = 4;  // the integer engine's weight / activation bits (W4A4; W8A8 beside llama.cpp's Q8_0)
  int steps = 8;             // greedy steps of the DuQuant search (speed does not depend on it)
  bool k_center = false;     // quantize with --k-center (the engine then subtracts a center from every key)
  int calib_windows = 2, calib_ctx = 64;
  std::string tmp;  // where the model files are written (and removed); default: system temp
  int core = -1;
  bool exact_rotations = false;    // the integer engine's online rotations in fp32 instead of int16
  bool wall = false;               // wall time instead of process CPU time (forced when a thread count is > 1)
  std::vector<int> threads = {1};  // every figure at each of these thread counts, interleaved
  bool cpu_time = false;           // process CPU time even with several threads (work efficiency, not speed)
  std::vector<int> batch;  // batched decode (Model::forward_batch, continuous batching's step) at these sequence counts
  bool stages = false;     // with batch: where a decode step's time goes (core/stage_clock.h)
};

void run_e2e_bench(const E2eBenchOptions& o);

}  // namespace duq::tools
