#include "hookd/crypto/random.h"

#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(RandomBytesTest, ReturnsRequestedLengthAndVaries) {
  EXPECT_EQ(RandomBytes(0), "");
  EXPECT_EQ(RandomBytes(1).size(), 1u);
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace hookd
