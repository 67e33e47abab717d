#include "model/config.h"

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace duq::model {

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](const char* name, long long v, long long limit) {
    if (v <= 0) fail(source, ": ", name, " must be positive (got ", v, ")");
    if (v > limit) fail(source, ": ", name, " = ", v, " is absurdly large (limit ", limit, ")");
  };
  positive("dim", dim, 1 << 17);
  positive("hidden_dim", hidden_dim, 1 << 19);
  positive("n_layers", n_layers, 1 << 12);
  positive("n_heads", n_heads, 1 << 12);
  positive("n_kv_heads", n_kv_heads, 1 << 12);
  positive("vocab_size", vocab_size, 1 << 22);
  positive("max_seq_len", max_seq_len, 1 << 22);
  if (dim % n_heads != 0) fail(source, ": dim ", dim, " is not a multiple of n_heads ", n_heads);
  if (n_heads % n_kv_heads != 0)
    fail(source, ": n_heads ", n_heads, " is not a multiple of n_kv_heads ", n_kv_heads);
  if (head_dim() % 2 != 0) fail(source, ": head size ", head_dim(), " must be even for RoPE");
  if (!(rms_eps > 0.f) || !(rope_theta > 0.f)) fail(source, ": rms_eps and rope_theta must be positive");
  // 1e300 in config.json becomes +inf as a float: RMSNorm would then scale everything to 0.
  if (!std::isfinite(rms_eps) || !std::isfinite(rope_theta))
    fail(source, ": rms_eps = ", rms_eps, " and rope_theta = ", rope_theta, " must be finite (too large for a float?)");
}

long long ModelConfig::n_params() const {
  long long d = dim, h = hidden_dim, v = vocab_size;
  long long per_layer = 2 * d + d * q_dim() + 2LL * d * kv_dim() + q_dim() * d + 3 * d * h;
  return v * d * (tied_embeddings ? 1 : 2) + d + n_layers * per_layer;
}

std::string ModelConfig::summary() const {
  std::ostringstream os;
  os << "dim " << dim << ", hidden " << hidden_dim << ", layers " << n_layers << ", heads " << n_heads
     << " (kv " << n_kv_heads << "), vocab " << vocab_size << ", max seq " << max_seq_len
     << (tied_embeddings ? ", tied classifier" : ", separate classifier")
     << (rope_layout == RopeLayout::Interleaved ? ", rope interleaved" : ", rope rotate-half");
  return os.str();
}

}  // namespace duq::model
