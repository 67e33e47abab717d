// Writing outputs without ever leaving a partial file: write to "<path>.tmp-XXXX" in the same directory,
// fsync, then rename over the target. A crash or kill leaves either no new file or the old one intact;
// on SIGINT/SIGTERM/SIGHUP the temporary file is removed too.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace duq {

class AtomicFile {
 public:
  // Opens a temporary file next to `target`. Throws duq::Error naming the path (permissions, missing folder).
  explicit AtomicFile(const std::filesystem::path& target);
  ~AtomicFile();  // removes the temporary file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // throws on short write (disk full) with the path
  void write(const std::string& s) { write(s.data(), s.size()); }
  void pad_to(uint64_t alignment);         // zero bytes up to the next multiple of alignment
  uint64_t offset() const { return written_; }
  void commit();  // flush, fsync, rename into place

 private:
  std::filesystem::path target_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
  int slot_ = -1;  // registration for removal on SIGINT/SIGTERM/SIGHUP
};

// Whole-file convenience: atomically replace `target` with `bytes`.
void write_file_atomic(const std::filesystem::path& target, const std::string& bytes);

}  // namespace duq
