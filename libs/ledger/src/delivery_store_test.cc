#include "hookd/ledger/delivery_store.h"

#include "gtest/gtest.h"

namespace hookd::ledger {
namespace {

TEST(SanitizeUtf8, KeepsValidTextAndReplacesTheRest) {
  EXPECT_EQ(SanitizeUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"),
            "\xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), "a" + r + "b");  // NUL
  EXPECT_EQ(SanitizeUtf8("\xFF\xFE"), r + r);                      // never valid
  EXPECT_EQ(SanitizeUtf8("\xC3"), r);                              // truncated
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), r + r);                      // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), r + r + r);              // surrogate
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), r + r + r + r);      // above U+10FFFF
  EXPECT_EQ(SanitizeUtf8("ok\xE2\x9Cx"), "ok" + r + r + "x");      // cut sequence
}

}  // namespace
}  // namespace hookd::ledger
