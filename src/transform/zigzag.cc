#include "transform/zigzag.h"

#include <algorithm>
#include <numeric>

namespace duq::transform {

std::vector<int64_t> zigzag_permutation(std::span<const float> channel_max, int64_t block) {
  const int64_t d = static_cast<int64_t>(channel_max.size());
  if (block < 1) fail("zigzag block size must be positive (got ", block, ")");
  if (block > d) fail("zigzag block size ", block, " is larger than the dimension ", d);
  const int64_t full = d / block, r = d % block, nblocks = full + (r > 0 ? 1 : 0);
  auto cap = [&](int64_t blk) { return blk < full ? block : r; };

  std::vector<int64_t> order(static_cast<size_t>(d));
  std::iota(order.begin(), order.end(), 0);
  auto desc = [&](int64_t a, int64_t b) {
    return channel_max[static_cast<size_t>(a)] > channel_max[static_cast<size_t>(b)];
  };
  std::stable_sort(order.begin(), order.end(), desc);

  std::vector<std::vector<int64_t>> blocks(static_cast<size_t>(nblocks));
  int64_t cur = 0;
  bool up = true;
  auto advance = [&] {
    if (up) {
      if (++cur == nblocks) cur = nblocks - 1, up = false;
    } else {
      if (--cur == -1) cur = 0, up = true;
    }
  };
  for (int64_t ch : order) {
    while (static_cast<int64_t>(blocks[static_cast<size_t>(cur)].size()) == cap(cur)) advance();
    blocks[static_cast<size_t>(cur)].push_back(ch);
    advance();
  }
  std::vector<int64_t> perm;
  perm.reserve(static_cast<size_t>(d));
  for (auto& b : blocks) {
    std::stable_sort(b.begin(), b.end(), desc);
    perm.insert(perm.end(), b.begin(), b.end());
  }
  return perm;
}

void permute_columns(MatView x, std::span<const int64_t> perm) {
  DUQ_CHECK(static_cast<int64_t>(perm.size()) == x.cols, "permute_columns: size");
  std::vector<float> buf(static_cast<size_t>(x.cols));
  for (int64_t i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    for (int64_t j = 0; j < x.cols; ++j) buf[static_cast<size_t>(j)] = r[perm[static_cast<size_t>(j)]];
    std::copy(buf.begin(), buf.end(), r);
  }
}

std::vector<int64_t> inverse_permutation(std::span<const int64_t> perm) {
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return inv;
}

}  // namespace duq::transform
