// Helpers shared by the fuzz targets.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace duq::fuzz {

// A file in memory (memfd) whose contents each run replaces, for parsers that take a path: they open
// "/proc/self/fd/N" like any file, and nothing touches the disk.
class MemFile {
 public:
  explicit MemFile(const char* name) {
    fd_ = ::memfd_create(name, 0);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(const uint8_t* data, size_t n) {
    if (::ftruncate(fd_, 0) != 0 || (n && ::pwrite(fd_, data, n, 0) != static_cast<ssize_t>(n))) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A property the target checks failed: print why and abort, so libFuzzer saves the input.
[[noreturn]] inline void property_failed(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}
#define FUZZ_REQUIRE(cond)                            \
  do {                                                \
    if (!(cond)) ::duq::fuzz::property_failed(#cond); \
  } while (0)

}  // namespace duq::fuzz
