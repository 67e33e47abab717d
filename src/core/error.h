// Errors and checks.
// duq::Error: a problem the user can act on (bad file, bad flag, unsupported model). The CLI prints its
// message on one line and exits 1. DUQ_CHECK: an internal invariant; on failure it aborts with file:line,
// in every build type (a wrong answer is worse than a crash in a numeric tool).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace duq {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& msg);
}  // namespace detail

// Throws duq::Error with the pieces streamed together: fail("file ", path, ": bad magic").
template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

}  // namespace duq

#define DUQ_CHECK(cond, ...)                                                                                        \
  do {                                                                                                              \
    if (!(cond))                                                                                                    \
      ::duq::detail::check_failed(#cond, __FILE__, __LINE__, ::duq::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
