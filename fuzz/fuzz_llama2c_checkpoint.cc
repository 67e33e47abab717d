// llama2.c checkpoints (formats::Llama2cCheckpoint, then model::open_llama2c_weights + load_all) on
// arbitrary bytes written to an in-memory file. An accepted file's layout must lie inside it, and
// loading every weight must either succeed or fail with duq::Error (NaN/Inf in the weights).
#include <cstring>

#include "core/error.h"
#include "formats/llama2c_checkpoint.h"
#include "fuzz_util.h"
#include "model/llama2c_source.h"
#include "model/weights.h"

using namespace duq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_checkpoint.bin");
  const std::string& path = file.write(data, size);
  try {
    formats::Llama2cCheckpoint c(path);
    const auto& h = c.header();
    const auto& o = c.layout();
    const uint64_t header_bytes = h.version == 0 ? 28 : 256;
    FUZZ_REQUIRE(header_bytes + 4 * o.total_floats == size);
    for (uint64_t off :
         {o.tok_embeddings, o.rms_att, o.wq, o.wk, o.wv, o.wo, o.rms_ffn, o.w1, o.w2, o.w3, o.rms_final, o.wcls})
      FUZZ_REQUIRE(off <= o.total_floats);
    // Last array ends inside the data: the final-norm / classifier reads stay in bounds.
    FUZZ_REQUIRE(o.rms_final + static_cast<uint64_t>(h.dim) <= o.total_floats);
    FUZZ_REQUIRE(o.wcls + static_cast<uint64_t>(h.vocab_size) * h.dim <= o.total_floats);
    float first, last;
    std::memcpy(&first, c.floats(0), 4);
    if (o.total_floats) std::memcpy(&last, c.floats(o.total_floats - 1), 4);
    (void)first;
    (void)last;
  } catch (const Error&) {
    return 0;
  }
  try {
    auto src = model::open_llama2c_weights(path);
    model::ModelWeights w = src->load_all();
    FUZZ_REQUIRE(static_cast<int>(w.layers.size()) == src->config().n_layers);
  } catch (const Error&) {
  }
  return 0;
}
