#include "hookd/apps/routing.h"

#include "gtest/gtest.h"

namespace hookd::apps {
namespace {

v1::App MakeApp(std::vector<std::string> patterns, std::vector<std::string> channels = {},
                bool active = true) {
  v1::App app;
  app.set_active(active);
  for (auto& p : patterns) app.add_event_types(p);
  for (auto& c : channels) app.add_channels(c);
  return app;
}

TEST(AppMatches, PatternsChannelsAndActive) {
  EXPECT_TRUE(AppMatches(MakeApp({"video.ready"}), "video.ready", {}));
  EXPECT_FALSE(AppMatches(MakeApp({"video.ready"}), "video.failed", {}));
  EXPECT_TRUE(AppMatches(MakeApp({"video.*"}), "video.sd_encoded", {}));
  EXPECT_FALSE(AppMatches(MakeApp({"video.*"}), "render.failed", {}));
  EXPECT_TRUE(AppMatches(MakeApp({"render.failed", "*"}), "anything.at_all", {}));
  EXPECT_TRUE(AppMatches(MakeApp({"hookd.app.*"}), "hookd.app.disabled", {}));
  EXPECT_FALSE(AppMatches(MakeApp({"hookd.app.*"}), "hookd.delivery.exhausted", {}));
  // A disabled app still subscribes: its deliveries are held.
  EXPECT_TRUE(AppMatches(MakeApp({"*"}, {}, /*active=*/false), "video.ready", {}));
  // An app listing channels gets only events on one of them; one listing none gets all.
  EXPECT_TRUE(AppMatches(MakeApp({"*"}, {"eu", "us"}), "video.ready", {"us"}));
  EXPECT_FALSE(AppMatches(MakeApp({"*"}, {"eu"}), "video.ready", {"us"}));
  EXPECT_FALSE(AppMatches(MakeApp({"*"}, {"eu"}), "video.ready", {}));
  EXPECT_TRUE(AppMatches(MakeApp({"*"}), "video.ready", {"us"}));
}

TEST(DueTime, AddsTheAppsDeliveryDelay) {
  const absl::Time at = absl::FromUnixSeconds(1'700'000'000);
  v1::App app = MakeApp({"*"});
  EXPECT_EQ(DueTime(app, at), at);
  app.mutable_delivery_delay()->set_seconds(2);
  app.mutable_delivery_delay()->set_nanos(500'000'000);
  EXPECT_EQ(DueTime(app, at), at + absl::Milliseconds(2500));
}

}  // namespace
}  // namespace hookd::apps
