#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace duq::detail {

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "duquant: internal check failed at %s:%d: %s%s%s\n", file, line, expr, msg.empty() ? "" : " — ",
               msg.c_str());
  std::abort();
}

}  // namespace duq::detail
