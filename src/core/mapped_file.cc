#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/file_checks.h"

namespace duq {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path.string()) {
  const int fd = open_regular_file(path_, "file");  // never blocks on a FIFO; refuses devices and directories
  struct stat st {};
  ::fstat(fd, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(path_, ": cannot map: ", std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

void MappedFile::release(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  if (!data_ || n == 0 || b < data_ || b + n > data_ + size_) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Whole pages around [b, b+n), as pointer arithmetic (the map itself is page-aligned, so lo stays inside it).
  const uint8_t* lo = b - reinterpret_cast<uintptr_t>(b) % page;
  const uintptr_t hi_addr = (reinterpret_cast<uintptr_t>(b + n) + page - 1) / page * page;
  const size_t len = hi_addr - reinterpret_cast<uintptr_t>(lo);
  // The map is read-only and private: nothing is lost, the pages come back from the file if read again.
  ::madvise(const_cast<uint8_t*>(lo), len, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), path_(std::move(o.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    path_ = std::move(o.path_);
  }
  return *this;
}

}  // namespace duq
