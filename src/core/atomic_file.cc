#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace duq {

AtomicFile::AtomicFile(const std::filesystem::path& target) : target_(target) {
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) fail(target.string(), ": cannot create output file: ", std::strerror(errno));
  tmp_ = buf.data();
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(target_.string(), ": write failed: ", std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

void AtomicFile::pad_to(uint64_t alignment) {
  static const char zeros[64] = {};
  uint64_t rem = written_ % alignment;
  if (rem == 0) return;
  uint64_t need = alignment - rem;
  while (need > 0) {
    uint64_t k = need < sizeof zeros ? need : sizeof zeros;
    write(zeros, k);
    need -= k;
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) fail(target_.string(), ": fsync failed: ", std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(target_.string(), ": close failed: ", std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), target_.c_str()) != 0)
    fail(target_.string(), ": cannot rename temporary file into place: ", std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& target, const std::string& bytes) {
  AtomicFile f(target);
  f.write(bytes);
  f.commit();
}

}  // namespace duq
