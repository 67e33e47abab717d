// serve::utf8_incomplete_tail: how many trailing bytes of a streamed text start a character not complete
// yet (held back so that no stream event splits a character). Expected values by hand from the UTF-8 table.
#include <gtest/gtest.h>

#include "serve/scheduler.h"

namespace duq::serve {
namespace {

TEST(Utf8Tail, HoldsBackOnlyIncompleteCharacters) {
  EXPECT_EQ(utf8_incomplete_tail(""), 0u);
  EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("h\xC3\xA9"), 0u);         // é complete
  EXPECT_EQ(utf8_incomplete_tail("h\xC3"), 1u);             // first byte of é
  EXPECT_EQ(utf8_incomplete_tail("a\xE2\x82"), 2u);         // two of the three bytes of €
  EXPECT_EQ(utf8_incomplete_tail("a\xE2\x82\xAC"), 0u);     // € complete
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x98"), 3u);      // three of the four bytes of 😀
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x98\x80"), 0u);  // 😀 complete
  EXPECT_EQ(utf8_incomplete_tail("a\x80"), 0u);             // a stray continuation byte: nothing to wait for
}

}  // namespace
}  // namespace duq::serve
