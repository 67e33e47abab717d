// 64-byte aligned storage (one cache line, one AVX-512 register) for every numeric buffer.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace duq {

// Buffers of at least kHugeBufferBytes are aligned to 2 MiB and advised as transparent huge pages (Linux
// madvise; where THP is "madvise"-only this is what enables them): packed weights, activations and outputs
// of the integer GEMM then need far fewer TLB entries (measured: docs/benchmarks.md).
// Smaller buffers: plain `align` alignment. free must be given the same size and alignment.
inline constexpr std::size_t kHugeBufferBytes = std::size_t(4) << 20;
void* aligned_buffer_allocate(std::size_t bytes, std::size_t align);
void aligned_buffer_free(void* p, std::size_t bytes, std::size_t align) noexcept;

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  T* allocate(std::size_t n) { return static_cast<T*>(aligned_buffer_allocate(n * sizeof(T), Align)); }
  void deallocate(T* p, std::size_t n) noexcept { aligned_buffer_free(p, n * sizeof(T), Align); }
  template <class U>
  bool operator==(const AlignedAllocator<U, Align>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace duq
