// MappedFile::release drops a read range's pages from resident memory (issue 15: a checkpoint read block by
// block must not end with the whole file resident) and loses nothing: the bytes read back the same.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "core/mapped_file.h"
#include "test_support.h"

namespace duq {
namespace {

// Resident pages of this process (/proc/self/statm, second field), in bytes.
int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t sum_bytes(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; ++i) s = s * 31 + p[i];
  return s;
}

TEST(MappedFile, ReleaseDropsResidentPagesAndKeepsTheBytes) {
  constexpr size_t kBytes = 64u << 20;
  const auto path = test::temp_dir("mapped_release") / "blob.bin";
  {
    std::string data(kBytes, '\0');
    for (size_t i = 0; i < kBytes; ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
    test::write_bytes(path, data);
  }
  const MappedFile f(path);
  ASSERT_EQ(f.size(), kBytes);
  const uint64_t sum = sum_bytes(f.data(), f.size());  // touches every page
  const int64_t before = resident_bytes();
  f.release(f.data() + 4096, kBytes - 8192);
  const int64_t after = resident_bytes();
  EXPECT_GT(before - after, static_cast<int64_t>(kBytes / 2)) << "resident " << before << " -> " << after;
  EXPECT_EQ(sum_bytes(f.data(), f.size()), sum);  // read again from the file
  f.release(f.data() + kBytes - 10, 100);         // beyond the end: ignored
  f.release(nullptr, 10);                         // outside the map: ignored
  EXPECT_EQ(sum_bytes(f.data(), f.size()), sum);
}

}  // namespace
}  // namespace duq
