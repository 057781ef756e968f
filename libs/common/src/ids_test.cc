#include "hookd/common/ids.h"

#include <set>

#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(NewId, HasPrefixAndUlidShape) {
  std::string id = NewId("app");
  EXPECT_EQ(id.size(), 4u + 26u);
  EXPECT_EQ(id.substr(0, 4), "app_");
  EXPECT_TRUE(IsValidId(id, "app"));
  EXPECT_FALSE(IsValidId(id, "evt"));
}

TEST(NewId, EncodesTimeInTheFirstTenDigits) {
  // 2^48 - 1 milliseconds is the largest time a ULID holds: "7ZZZZZZZZZ".
  EXPECT_EQ(IdGenerator().Next("x", absl::FromUnixMillis(0)).substr(2, 10), "0000000000");
  EXPECT_EQ(IdGenerator().Next("x", absl::FromUnixMillis(32)).substr(2, 10), "0000000010");
  EXPECT_EQ(IdGenerator().Next("x", absl::FromUnixMillis((int64_t{1} << 48) - 1)).substr(2, 10),
            "7ZZZZZZZZZ");
}

TEST(NewId, StrictlyIncreasingWithinOneMillisecond) {
  absl::Time t = absl::FromUnixMillis(1764000000000);
  IdGenerator generator;
  std::string previous = generator.Next("evt", t);
  for (int i = 0; i < 1000; ++i) {
    std::string next = generator.Next("evt", t);
    ASSERT_LT(previous, next);
    previous = next;
  }
}

TEST(NewId, LaterTimeSortsAfter) {
  IdGenerator generator;
  std::string earlier = generator.Next("evt", absl::FromUnixMillis(1764000000000));
  EXPECT_LT(earlier, generator.Next("evt", absl::FromUnixMillis(1764000000001)));
}

TEST(IdGenerator, NeverGoesBackwardsWithTheClock) {
  IdGenerator generator;
  std::string later = generator.Next("evt", absl::FromUnixMillis(1764000000005));
  EXPECT_LT(later, generator.Next("evt", absl::FromUnixMillis(1764000000000)));
}

TEST(IdLowerBoundAt, SortsBeforeEveryIdOfThatMillisecondAndAfterEarlierOnes) {
  absl::Time t = absl::FromUnixMillis(1764000000123);
  std::string bound = IdLowerBoundAt("dlv", t);
  EXPECT_TRUE(IsValidId(bound, "dlv"));
  EXPECT_EQ(bound.substr(14), "0000000000000000");
  IdGenerator generator;
  EXPECT_LT(bound, generator.Next("dlv", t));
  EXPECT_GT(bound, IdGenerator().Next("dlv", t - absl::Milliseconds(1)));
}

TEST(IdTime, IsTheMillisecondTheIdWasMadeAt) {
  const absl::Time t = absl::FromUnixMillis(1'790'000'000'123);
  IdGenerator ids;
  EXPECT_EQ(IdTime(ids.Next("dlv", t)), t);
  EXPECT_EQ(IdTime(IdLowerBoundAt("evt", t)), t);
  EXPECT_EQ(IdTime("evt_x"), std::nullopt);
  EXPECT_EQ(IdTime("no-underscore"), std::nullopt);
  EXPECT_EQ(IdTime("dlv_0000000001UUUUUUUUUUUUUUUU"), absl::FromUnixMillis(1));
  EXPECT_EQ(IdTime("dlv_000000000uAAAAAAAAAAAAAAAA"), std::nullopt);  // lower case: not Crockford
}

TEST(IsValidId, RejectsMalformed) {
  EXPECT_FALSE(IsValidId("app_", "app"));
  EXPECT_FALSE(IsValidId("app_01JDXK8N5V3Q9G2M7T4R6W8Y0", "app"));   // 25 digits
  EXPECT_FALSE(IsValidId("app_01JDXK8N5V3Q9G2M7T4R6W8Y0I", "app"));  // I is not Crockford
  EXPECT_FALSE(IsValidId("app_81JDXK8N5V3Q9G2M7T4R6W8Y0Z", "app"));  // overflows 128 bits
  EXPECT_FALSE(IsValidId("appx01JDXK8N5V3Q9G2M7T4R6W8Y0Z", "app"));
  EXPECT_TRUE(IsValidId("app_01JDXK8N5V3Q9G2M7T4R6W8Y0Z", "app"));
}

}  // namespace
}  // namespace hookd
