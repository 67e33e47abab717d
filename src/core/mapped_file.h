// A read-only memory map of a whole file. Model weights are viewed in place: no second copy in RAM.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace duq {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws duq::Error naming the path when the file is missing or cannot be mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the mapped pages of [p, p + n) from this process's resident memory (madvise MADV_DONTNEED; the
  // whole pages around the range, which only costs a re-read from the page cache if touched again). For
  // readers that convert a tensor to a copy of their own: without it every byte read stays resident twice
  // (its copy and its mapped page), and a 13 GB checkpoint read block by block ends with all 13 GB resident.
  // Ranges outside the map are ignored.
  void release(const void* p, size_t n) const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace duq
