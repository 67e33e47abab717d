// Peak resident memory of this process (getrusage's ru_maxrss: anonymous memory plus the pages of mapped
// files it has touched and not released), for the memory figures of `quantize` and `bench e2e`.
#pragma once
#include <cstdint>

namespace duq {

uint64_t peak_rss_bytes();

}  // namespace duq
