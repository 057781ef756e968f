#include "hookd/common/config.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(FlagOrEnv, FlagWinsThenEnvThenFallback) {
  ::setenv("HOOKD_CONFIG_TEST_VAR", "from-env", 1);
  EXPECT_EQ(FlagOrEnv("from-flag", "HOOKD_CONFIG_TEST_VAR", "fb"), "from-flag");
  EXPECT_EQ(FlagOrEnv("", "HOOKD_CONFIG_TEST_VAR", "fb"), "from-env");
  ::unsetenv("HOOKD_CONFIG_TEST_VAR");
  EXPECT_EQ(FlagOrEnv("", "HOOKD_CONFIG_TEST_VAR", "fb"), "fb");
}

TEST(RequireSetting, NamesTheFieldAndTheVariable) {
  EXPECT_TRUE(RequireSetting("x", "redis_url", "HOOKD_REDIS_URL").ok());
  absl::Status missing = RequireSetting("", "redis_url", "HOOKD_REDIS_URL");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.message(), "redis_url: required (HOOKD_REDIS_URL)");
}

TEST(ParseBool, AcceptsCommonSpellingsAndNamesTheSetting) {
  EXPECT_TRUE(*ParseBool("allow_http", "TRUE"));
  EXPECT_TRUE(*ParseBool("allow_http", "1"));
  EXPECT_FALSE(*ParseBool("allow_http", "off"));
  EXPECT_FALSE(*ParseBool("allow_http", ""));
  auto bad = ParseBool("allow_http", "maybe");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "allow_http: must be true or false");
}

TEST(SplitList, TrimsAndDropsEmpty) {
  EXPECT_EQ(SplitList(" 127.0.0.0/8, ,::1/128,"),
            (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_TRUE(SplitList("").empty());
}

}  // namespace
}  // namespace hookd
