// Writing outputs without ever leaving a partial file: write to "<path>.tmp-XXXX" in the same directory,
// fsync, then rename over the target. A crash or kill leaves either no new file or the old one intact;
// on SIGINT/SIGTERM/SIGHUP the temporary file is removed too.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace duq {

// What commit() may do when the target exists. No: fail (of two racing writers exactly one wins: the rename
// is RENAME_NOREPLACE). IfRegular: replace it when it is a regular file; never a device, FIFO, directory or
// symlink (callers resolve symlinks first, see tools/file_checks.h).
enum class Replace { No, IfRegular };

class AtomicFile {
 public:
  // Opens a temporary file next to `target`. Throws duq::Error naming the path (permissions, missing folder).
  explicit AtomicFile(const std::filesystem::path& target, Replace replace = Replace::IfRegular);
  ~AtomicFile();  // removes the temporary file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // throws on short write (disk full) with the path
  void write(const std::string& s) { write(s.data(), s.size()); }
  void pad_to(uint64_t alignment);  // zero bytes up to the next multiple of alignment
  uint64_t offset() const { return written_; }
  void commit();  // flush, fsync, rename into place

 private:
  std::filesystem::path target_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  Replace replace_;
  bool committed_ = false;
  int slot_ = -1;  // registration for removal on SIGINT/SIGTERM/SIGHUP
};

// Whole-file convenience: atomically replace `target` with `bytes`.
void write_file_atomic(const std::filesystem::path& target, const std::string& bytes,
                       Replace replace = Replace::IfRegular);

// A directory output built beside its target ("<target>.tmp-XXXXXX", removed on failure, on
// SIGINT/SIGTERM/SIGHUP and unless committed) and swapped in only when complete: a failed or interrupted
// run leaves no directory behind and the old one, if any, whole.
class StagedDir {
 public:
  explicit StagedDir(const std::filesystem::path& target);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  const std::filesystem::path& path() const { return tmp_; }  // write the files here
  // Moves the directory into place. An existing empty directory is replaced; a non-empty one only with
  // Replace::IfRegular and only when it holds nothing but model files (*.json, *.safetensors, *.model, *.bin,
  // *.txt, tokenizer.gguf) — never someone's folder of other things. The swap is one rename (RENAME_EXCHANGE).
  void commit(Replace replace);

 private:
  std::filesystem::path target_, tmp_;
  bool committed_ = false;
  int slot_ = -1;
};

// The checks StagedDir::commit makes, run before any work (throws duq::Error naming `target`).
void check_dir_replaceable(const std::filesystem::path& target, Replace replace);

}  // namespace duq
