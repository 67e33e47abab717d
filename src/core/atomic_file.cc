#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace duq {

namespace {
// Temporary files being written, so that SIGINT/SIGTERM/SIGHUP (Ctrl-C, `kill`) remove them before the
// process dies: an interrupted run leaves no partial file behind. unlink() is async-signal-safe; the
// slots are fixed buffers so the handler never allocates. (SIGKILL cannot be caught: its temporary file
// stays, named *.tmp-XXXXXX, and the target is still untouched.)
constexpr int kSlots = 8;
char g_tmp[kSlots][4096];
volatile std::sig_atomic_t g_used[kSlots];

void on_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i]) ::unlink(g_tmp[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int register_tmp(const std::string& path) {
  static bool installed = false;
  if (!installed) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_signal);
    installed = true;
  }
  if (path.size() >= sizeof g_tmp[0]) return -1;
  for (int i = 0; i < kSlots; ++i)
    if (!g_used[i]) {
      std::memcpy(g_tmp[i], path.c_str(), path.size() + 1);
      g_used[i] = 1;
      return i;
    }
  return -1;
}
}  // namespace

AtomicFile::AtomicFile(const std::filesystem::path& target) : target_(target) {
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) fail(target.string(), ": cannot create output file: ", std::strerror(errno));
  tmp_ = buf.data();
  ::fchmod(fd_, 0644);
  slot_ = register_tmp(tmp_.string());
}

AtomicFile::~AtomicFile() {
  if (slot_ >= 0) g_used[slot_] = 0;
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
