#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace duq {

namespace {
// Temporary files and staging directories being written, so that SIGINT/SIGTERM/SIGHUP (Ctrl-C, `kill`)
// remove them before the process dies: an interrupted run leaves no partial output behind. Everything the
// handler calls is async-signal-safe (unlink, rmdir, open, getdents64, close); the slots are fixed buffers so
// it never allocates. (SIGKILL cannot be caught: its temporary stays, named *.tmp-XXXXXX, and the target is
// still untouched.)
constexpr int kSlots = 16;
char g_tmp[kSlots][4096];
volatile std::sig_atomic_t g_used[kSlots];  // 0 free, 1 file, 2 directory

// Removes `dir` and what it holds, down to `depth` levels, without allocating (signal handler).
void remove_tree_signal_safe(const char* dir, int depth) {
  int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[4096];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        struct Entry {
          uint64_t ino;
          int64_t off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const Entry* e = reinterpret_cast<const Entry*>(buf + off);
        off += e->reclen;
        if (std::strcmp(e->name, ".") == 0 || std::strcmp(e->name, "..") == 0) continue;
        if (::unlinkat(fd, e->name, 0) != 0 && errno == EISDIR && depth > 0) {
          char sub[4096];
          const size_t a = std::strlen(dir), b = std::strlen(e->name);
          if (a + b + 2 > sizeof sub) continue;
          std::memcpy(sub, dir, a);  // NOLINT(bugprone-not-null-terminated-result): the name below brings the NUL
          sub[a] = '/';
          std::memcpy(sub + a + 1, e->name, b + 1);
          remove_tree_signal_safe(sub, depth - 1);
        }
      }
    }
    ::close(fd);
  }
  ::rmdir(dir);
}

void on_signal(int sig) {
  for (int i = kSlots - 1; i >= 0; --i) {  // newest first: a staging directory inside a temporary one
    if (g_used[i] == 1) ::unlink(g_tmp[i]);
    if (g_used[i] == 2) remove_tree_signal_safe(g_tmp[i], 4);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int register_tmp(const std::string& path, int kind) {
  static bool installed = false;
  if (!installed) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_signal);
    installed = true;
  }
  if (path.size() >= sizeof g_tmp[0]) return -1;
  for (int i = 0; i < kSlots; ++i)
    if (!g_used[i]) {
      std::memcpy(g_tmp[i], path.c_str(), path.size() + 1);
      g_used[i] = kind;
      return i;
    }
  return -1;
}

// rename(from, to) failing with EEXIST when `to` exists (atomic: of two racing writers exactly one wins).
int rename_noreplace(const char* from, const char* to) {
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // File systems without RENAME_NOREPLACE: link() also fails with EEXIST, then drop the temporary name.
  if (::link(from, to) != 0) return -1;
  ::unlink(from);
  return 0;
}
}  // namespace

AtomicFile::AtomicFile(const std::filesystem::path& target, Replace replace) : target_(target), replace_(replace) {
  if (target.empty()) fail("output path is empty");
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0) fail(target.string(), ": cannot create output file: ", std::strerror(errno));
  tmp_ = buf.data();
  ::fchmod(fd_, 0644);
  slot_ = register_tmp(tmp_.string(), 1);
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
  if (replace_ == Replace::No) {
    if (rename_noreplace(tmp_.c_str(), target_.c_str()) != 0) {
      if (errno == EEXIST)
        fail(target_.string(), ": already exists (created by someone else while this ran); pass --force to replace it");
      fail(target_.string(), ": cannot move the temporary file into place: ", std::strerror(errno));
    }
  } else {
    // Only a regular file is ever replaced: not a device (/dev/null), a FIFO, a directory or a symlink.
    struct stat st;
    if (::lstat(target_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      fail(target_.string(), ": is not a regular file; refusing to replace it");
    if (::rename(tmp_.c_str(), target_.c_str()) != 0)
      fail(target_.string(), ": cannot rename temporary file into place: ", std::strerror(errno));
  }
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& target, const std::string& bytes, Replace replace) {
  AtomicFile f(target, replace);
  f.write(bytes);
  f.commit();
}

}  // namespace duq

namespace duq {

namespace {
// Entries a model directory holds; --force replaces a directory only when it holds nothing else.
bool model_dir_entry(const std::filesystem::directory_entry& e) {
  if (!e.is_regular_file() || e.is_symlink()) return false;
  const std::string ext = e.path().extension().string();
  return ext == ".json" || ext == ".safetensors" || ext == ".model" || ext == ".bin" || ext == ".txt" ||
         e.path().filename() == "tokenizer.gguf";  // the vocabulary `convert` writes for a GGUF model
}
}  // namespace

StagedDir::StagedDir(const std::filesystem::path& target) : target_(target) {
  if (target.empty()) fail("output directory path is empty");
  std::string tmpl = target.string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) fail(target.string(), ": cannot create a directory beside it: ", std::strerror(errno));
  tmp_ = buf.data();
  ::chmod(tmp_.c_str(), 0755);
  slot_ = register_tmp(tmp_.string(), 2);
}

StagedDir::~StagedDir() {
  if (slot_ >= 0) g_used[slot_] = 0;
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
}

void StagedDir::commit(Replace replace) {
  namespace fs = std::filesystem;
  const int dfd = ::open(tmp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) == 0) {
    committed_ = true;
    return;
  }
  if (errno != EEXIST && errno != ENOTEMPTY)
    fail(target_.string(), ": cannot move the new directory into place: ", std::strerror(errno));
  check_dir_replaceable(target_, replace);
  // Swap the complete new directory in with one rename; the old one ends up at the temporary name, removed.
  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0)
    fail(target_.string(), ": cannot swap the new directory into place: ", std::strerror(errno));
  committed_ = true;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void check_dir_replaceable(const std::filesystem::path& target, Replace replace) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::symlink_status(target, ec);
  if (ec || st.type() == fs::file_type::not_found) return;
  if (st.type() != fs::file_type::directory)
    fail(target.string(), ": exists and is not a directory; refusing to replace it");
  if (fs::is_empty(target, ec)) return;
  if (replace == Replace::No) fail(target.string(), ": already exists and is not empty (pass --force to replace it)");
  for (const auto& e : fs::directory_iterator(target, ec))
    if (!model_dir_entry(e))
      fail(target.string(), ": holds ", e.path().filename().string(),
           ", which is not a model file; refusing to replace the directory");
}

}  // namespace duq
