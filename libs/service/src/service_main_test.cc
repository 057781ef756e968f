#include "hookd/service/service_main.h"

#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(NormalizeFlagNames, DashesInNamesBecomeUnderscores) {
  EXPECT_EQ(NormalizeFlagNames({"hookd-worker", "--log-level=debug", "--log_format=text",
                                "-max-in-flight", "8", "--metrics-listen", ":9090", "--name=a-b-c",
                                "--noallow-http", "--help"}),
            (std::vector<std::string>{"hookd-worker", "--log_level=debug", "--log_format=text",
                                      "-max_in_flight", "8", "--metrics_listen", ":9090",
                                      "--name=a-b-c", "--noallow_http", "--help"}));
}

TEST(NormalizeFlagNames, LeavesTheProgramNameAndWhatFollowsDoubleDashAlone) {
  EXPECT_EQ(NormalizeFlagNames({"./hookd-ingest", "--", "--log-level=x", "-a-b"}),
            (std::vector<std::string>{"./hookd-ingest", "--", "--log-level=x", "-a-b"}));
  EXPECT_EQ(NormalizeFlagNames({"prog", "-", "--"}), (std::vector<std::string>{"prog", "-", "--"}));
}

}  // namespace
}  // namespace hookd
