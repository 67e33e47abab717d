// Deterministic random numbers, identical on every platform and compiler (std::*_distribution are not):
// splitmix64-seeded xoshiro256** with our own uniform and normal transforms.
#pragma once
#include <cstdint>

namespace duq {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  // uniform in [0, 1) with 53 random bits
  double uniform();
  // uniform integer in [0, n)
  uint64_t below(uint64_t n);
  // standard normal (Box–Muller, both values used)
  double normal();

 private:
  uint64_t s_[4];
  bool have_spare_ = false;
  double spare_ = 0;
};

}  // namespace duq
