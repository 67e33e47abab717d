#include "model/rope_freq.h"

#include <cmath>
#include <numbers>

namespace duq::model {

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int hd = c.head_dim();
  const RopeScaling& r = c.rope_scaling;
  std::vector<double> f(static_cast<size_t>(hd / 2));
  for (int i = 0; i < hd / 2; ++i) {
    // The same expression as the plain table (kernels::RopeTable(max_pos, hd, theta)): unscaled models stay
    // bit-identical.
    double inv = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / hd);
    switch (r.type) {
      case RopeScaling::Type::None: break;
      case RopeScaling::Type::Linear: inv /= r.factor; break;
      case RopeScaling::Type::FreqFactors: inv /= r.freq_factors[static_cast<size_t>(i)]; break;
      case RopeScaling::Type::Llama3: {
        // transformers' _compute_llama3_parameters: long wavelengths slowed by `factor`, short ones kept, the
        // band between interpolated linearly in original_max_pos / wavelength.
        const double wavelen = 2 * std::numbers::pi / inv;
        const double low_wavelen = r.original_max_pos / static_cast<double>(r.low_freq_factor);
        const double high_wavelen = r.original_max_pos / static_cast<double>(r.high_freq_factor);
        if (wavelen > low_wavelen) {
          inv /= r.factor;
        } else if (wavelen >= high_wavelen) {
          const double smooth = (r.original_max_pos / wavelen - r.low_freq_factor) /
                                (static_cast<double>(r.high_freq_factor) - r.low_freq_factor);
          inv = (1 - smooth) * inv / r.factor + smooth * inv;
        }
        break;
      }
    }
    f[static_cast<size_t>(i)] = inv;
  }
  return f;
}

kernels::RopeTable rope_table(const ModelConfig& c, int max_pos) {
  return kernels::RopeTable(max_pos, rope_inv_freq(c));
}

}  // namespace duq::model
