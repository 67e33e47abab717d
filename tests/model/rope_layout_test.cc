// The W_q/W_k row permutations between RoPE layouts: interleaved → rotate-half moves row 2i+j of a head to row
// j·hd/2 + i (checked on labelled rows), and rotate_half_to_interleaved undoes it exactly.
#include <gtest/gtest.h>

#include "model/rope_layout.h"

namespace duq::model {
namespace {

TEST(RopeLayout, RowsMoveAsDocumentedAndTheInverseRestoresThem) {
  const int heads = 3, hd = 8, D = 2;
  Mat w(heads * hd, D);
  for (int64_t r = 0; r < w.rows(); ++r) w(r, 0) = static_cast<float>(r), w(r, 1) = -static_cast<float>(r);
  Mat rh = w;
  interleaved_to_rotate_half(rh, heads);
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i)
      for (int j = 0; j < 2; ++j) {
        EXPECT_EQ(rh(h * hd + j * hd / 2 + i, 0), static_cast<float>(h * hd + 2 * i + j));
        EXPECT_EQ(rh(h * hd + j * hd / 2 + i, 1), -static_cast<float>(h * hd + 2 * i + j));
      }
  Mat back = rh;
  rotate_half_to_interleaved(back, heads);
  for (int64_t i = 0; i < w.size(); ++i) ASSERT_EQ(back.data()[i], w.data()[i]) << i;
}

}  // namespace
}  // namespace duq::model
