#include "core/aligned.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace duq {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
std::size_t effective_align(std::size_t bytes, std::size_t align) {
  return bytes >= kHugeBufferBytes ? kHugePage : align;
}
}  // namespace

void* aligned_buffer_allocate(std::size_t bytes, std::size_t align) {
  const std::size_t a = effective_align(bytes, align);
  void* p = ::operator new(bytes, std::align_val_t(a));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only (failure — THP off, old kernel — leaves ordinary pages), on the whole huge pages inside the block.
  if (a == kHugePage) (void)madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return p;
}

void aligned_buffer_free(void* p, std::size_t bytes, std::size_t align) noexcept {
  ::operator delete(p, std::align_val_t(effective_align(bytes, align)));
}

}  // namespace duq
