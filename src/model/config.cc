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
  if (head_size < 0 || head_size > (1 << 12)) fail(source, ": head_dim ", head_size, " is out of range");
  if (head_size == 0 && dim % n_heads != 0) fail(source, ": dim ", dim, " is not a multiple of n_heads ", n_heads);
  if (n_heads % n_kv_heads != 0) fail(source, ": n_heads ", n_heads, " is not a multiple of n_kv_heads ", n_kv_heads);
  if (head_dim() % 2 != 0) fail(source, ": head size ", head_dim(), " must be even for RoPE");
  if (!(rms_eps > 0.f) || !(rope_theta > 0.f)) fail(source, ": rms_eps and rope_theta must be positive");
  // 1e300 in config.json becomes +inf as a float: RMSNorm would then scale everything to 0.
  if (!std::isfinite(rms_eps) || !std::isfinite(rope_theta))
    fail(source, ": rms_eps = ", rms_eps, " and rope_theta = ", rope_theta, " must be finite (too large for a float?)");
  for (int e : extra_eos_ids)
    if (e < 0 || e >= vocab_size) fail(source, ": eos id ", e, " is outside the vocabulary of ", vocab_size);
  if (sliding_window < 0) fail(source, ": sliding_window ", sliding_window, " must not be negative");
  const RopeScaling& r = rope_scaling;
  if (r.type != RopeScaling::Type::None && r.type != RopeScaling::Type::FreqFactors &&
      !(r.factor >= 1.f && std::isfinite(r.factor)))
    fail(source, ": rope scaling factor ", r.factor, " must be a finite number ≥ 1");
  if (r.type == RopeScaling::Type::Llama3 && !(r.high_freq_factor > r.low_freq_factor && r.low_freq_factor > 0.f &&
                                               r.original_max_pos > 0 && std::isfinite(r.high_freq_factor)))
    fail(source, ": llama3 rope scaling needs 0 < low_freq_factor (", r.low_freq_factor, ") < high_freq_factor (",
         r.high_freq_factor, ") and original_max_position_embeddings > 0 (", r.original_max_pos, ")");
  if (r.type == RopeScaling::Type::FreqFactors) {
    if (r.freq_factors.size() != static_cast<size_t>(head_dim() / 2))
      fail(source, ": rope frequency factors hold ", r.freq_factors.size(),
           " values, expected head_dim / 2 = ", head_dim() / 2);
    for (float f : r.freq_factors)
      if (!(f > 0.f && std::isfinite(f))) fail(source, ": rope frequency factor ", f, " must be positive and finite");
  }
}

bool ModelConfig::is_eos(int id) const {
  if (id == eos_id) return true;
  for (int e : extra_eos_ids)
    if (id == e) return true;
  return false;
}

const char* rope_scaling_name(RopeScaling::Type t) {
  switch (t) {
    case RopeScaling::Type::None: return "none";
    case RopeScaling::Type::Linear: return "linear";
    case RopeScaling::Type::Llama3: return "llama3";
    case RopeScaling::Type::FreqFactors: return "freq_factors";
  }
  return "?";
}

long long ModelConfig::n_params() const {
  long long d = dim, h = hidden_dim, v = vocab_size;
  long long per_layer = 2 * d + d * q_dim() + 2LL * d * kv_dim() + q_dim() * d + 3 * d * h;
  return v * d * (tied_embeddings ? 1 : 2) + d + n_layers * per_layer;
}

std::string ModelConfig::summary() const {
  std::ostringstream os;
  os << "dim " << dim << ", hidden " << hidden_dim << ", layers " << n_layers << ", heads " << n_heads << " (kv "
     << n_kv_heads << "), vocab " << vocab_size << ", max seq " << max_seq_len
     << (tied_embeddings ? ", tied classifier" : ", separate classifier")
     << (rope_layout == RopeLayout::Interleaved ? ", rope interleaved" : ", rope rotate-half");
  if (head_size > 0) os << ", head_dim " << head_size;
  if (rope_scaling.type != RopeScaling::Type::None) {
    os << ", rope scaling " << rope_scaling_name(rope_scaling.type);
    if (rope_scaling.type != RopeScaling::Type::FreqFactors) os << " ×" << rope_scaling.factor;
  }
  if (sliding_window > 0) os << ", sliding window " << sliding_window;
  return os.str();
}

}  // namespace duq::model
