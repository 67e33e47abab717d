#include "core/file_checks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"

namespace duq {

namespace fs = std::filesystem;

namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId&) const = default;
};

// The file `path` names after following symlinks; false when it does not exist (or cannot be reached).
bool file_id(const fs::path& path, FileId& id) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  id = {st.st_dev, st.st_ino};
  return true;
}

// Every file the inputs name: the files themselves, and for a directory the directory and its entries.
std::vector<FileId> input_ids(const std::vector<std::string>& inputs) {
  std::vector<FileId> ids;
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    FileId id;
    if (!file_id(in, id)) continue;
    ids.push_back(id);
    std::error_code ec;
    if (fs::is_directory(in, ec))
      for (const auto& e : fs::directory_iterator(in, ec))
        if (file_id(e.path(), id)) ids.push_back(id);
  }
  return ids;
}

bool is_input(const fs::path& p, const std::vector<FileId>& ids) {
  FileId id;
  if (!file_id(p, id)) return false;
  for (const auto& i : ids)
    if (i == id) return true;
  return false;
}

// `out` with its symlinks resolved (the final component too, even when it dangles); throws on an empty
// path, a name too long, a symlink loop.
fs::path resolve(const std::string& out, const std::string& flag) {
  if (out.empty()) fail(flag, ": the output path is empty");
  struct stat st;
  if (::lstat(out.c_str(), &st) != 0 && errno != ENOENT) fail(flag, " ", out, ": ", std::strerror(errno));
  fs::path p = out;
  for (int hops = 0; ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode); ++hops) {
    if (hops == 40) fail(flag, " ", out, ": ", std::strerror(ELOOP));
    std::error_code ec;
    fs::path target = fs::read_symlink(p, ec);
    if (ec) fail(flag, " ", out, ": ", ec.message());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) fail(flag, " ", out, ": ", ec.message());
  const fs::path parent = abs.parent_path();
  struct stat pst;
  if (::stat(parent.c_str(), &pst) != 0) fail(flag, " ", out, ": folder ", parent.string(), ": ", std::strerror(errno));
  if (!S_ISDIR(pst.st_mode)) fail(flag, " ", out, ": ", parent.string(), " is not a directory");
  if (::access(parent.c_str(), W_OK) != 0) fail(flag, " ", out, ": cannot write to folder ", parent.string());
  if (abs.filename().empty() || abs.filename() == "." || abs.filename() == "..")
    fail(flag, " ", out, ": not a file name");
  return abs;
}

}  // namespace

int open_regular_file(const std::string& path, const std::string& what) {
  if (path.empty()) fail(what, ": the path is empty");
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open ", what, ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t m = st.st_mode;
    ::close(fd);
    fail(path, ": ", what, " is ", kind_of(m), ", not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

void require_regular_file(const std::string& path, const std::string& what) { ::close(open_regular_file(path, what)); }

std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  const int fd = open_regular_file(path, what);
  struct stat st;
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    fail(path, ": ", what, " is ", st.st_size, " bytes, more than the ", max_bytes, " this reads");
  }
  std::string s(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < s.size()) {
    const ssize_t n = ::read(fd, s.data() + got, s.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      fail(path, ": cannot read ", what, n < 0 ? ": " : " (file shrank while being read)",
           n < 0 ? std::strerror(e) : "");
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return s;
}

fs::path check_output_file(const std::string& out, const std::string& flag, bool force,
                           const std::vector<std::string>& inputs) {
  // What `out` finally names, before resolving its links by hand (/proc/self/fd/1 is a "magic" link).
  struct stat fst;
  if (!out.empty() && ::stat(out.c_str(), &fst) == 0 && !S_ISREG(fst.st_mode) && !S_ISDIR(fst.st_mode))
    fail(flag, " ", out, ": is ", kind_of(fst.st_mode), "; refusing to replace it");
  fs::path p = resolve(out, flag);  // not const: returned by move
  if (is_input(p, input_ids(inputs))) fail(flag, " ", out, ": is an input of this command; refusing to overwrite it");
  struct stat st;
  if (::stat(p.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail(flag, " ", out, ": is a directory; give a file name");
    if (!S_ISREG(st.st_mode)) fail(flag, " ", out, ": is ", kind_of(st.st_mode), "; refusing to replace it");
    if (!force) fail(flag, " ", out, ": already exists (pass --force to replace it)");
  }
  return p;
}

fs::path check_output_dir(const std::string& out, const std::string& flag, bool force,
                          const std::vector<std::string>& inputs) {
  fs::path p = resolve(out, flag);  // not const: returned by move
  const auto ids = input_ids(inputs);
  if (is_input(p, ids)) fail(flag, " ", out, ": is an input of this command; refusing to replace it");
  // An input inside the directory would be deleted with the old directory.
  FileId out_id;
  if (file_id(p, out_id))
    for (const auto& in : inputs) {
      std::error_code ec;
      if (in.empty()) continue;
      const fs::path c = fs::canonical(in, ec);
      if (ec) continue;
      for (fs::path a = c.parent_path(); a.has_relative_path(); a = a.parent_path()) {
        FileId id;
        if (file_id(a, id) && id == out_id)
          fail(flag, " ", out, ": holds ", in, ", an input of this command; refusing to replace it");
      }
    }
  check_dir_replaceable(p, force ? Replace::IfRegular : Replace::No);
  return p;
}

}  // namespace duq
