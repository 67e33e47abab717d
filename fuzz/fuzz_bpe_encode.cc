// BPE encoding of arbitrary text with the real stories260K tokenizer (tok512.bin from $DUQUANT_ASSETS or
// the repo's assets/): ids in range, decode(encode(text)) gives the text back (byte fallback covers every
// byte), and for inputs up to 64 bytes (the reference is O(n²) per merge) the heap encoder equals the O(n²) run.c port
// token for token.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/assets.h"
#include "core/error.h"
#include "formats/llama2c_tokenizer_file.h"
#include "fuzz_util.h"
#include "model/bpe_tokenizer.h"
#include "model/naive_encoder.h"

using namespace duq;

namespace {
struct Tok {
  formats::Llama2cVocab vocab;
  std::unique_ptr<model::BpeTokenizer> bpe;
  Tok() {
    const std::string path = (assets_dir() / "models/stories260K/tok512.bin").string();
    try {
      vocab = formats::read_llama2c_tokenizer(path);
      bpe = model::BpeTokenizer::load(path);
    } catch (const Error& e) {
      std::fprintf(stderr, "fuzz_bpe_encode needs the stories260K tokenizer: %s (set DUQUANT_ASSETS)\n", e.what());
      std::exit(2);
    }
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tok t;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<int> ids = t.bpe->encode(text, false, false);
  FUZZ_REQUIRE(text.empty() ? ids.empty() : ids.size() >= 1);
  std::string back;
  int prev = -1;
  for (int id : ids) {
    FUZZ_REQUIRE(id >= 0 && id < t.bpe->vocab_size());
    back += t.bpe->decode(prev, id);
    prev = id;
  }
  // The dummy prefix adds one leading space; with bos=false decode keeps it.
  FUZZ_REQUIRE(text.empty() ? back.empty() : back == " " + text);
  if (size <= 64) {
    const std::vector<int> want = test::naive_llama2c_encode(t.vocab.pieces, t.vocab.scores, text, true, true);
    FUZZ_REQUIRE(t.bpe->encode(text, true, true) == want);
  }
  return 0;
}
