// AppCache against a real hookd-subscription (in process) and Postgres.

#include "absl/strings/match.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hookd/appcache/app_cache.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/testing.h"

namespace hookd::appcache {
namespace {

using testing::ClientContext;
using testing::kTestAdminToken;
using testing::PollUntil;

v1::App MakeApp(std::string tenant, std::vector<std::string> patterns) {
  v1::App app;
  app.set_id("app_" + std::to_string(std::hash<std::string>()(tenant + patterns[0])));
  app.set_tenant(std::move(tenant));
  app.set_active(true);
  for (auto& p : patterns) app.add_event_types(p);
  return app;
}

TEST(AppSet, RoutesWithinTheTenantOnly) {
  std::unordered_map<std::string, AppSet::AppPtr> apps;
  for (auto app :
       {MakeApp("a", {"video.*"}), MakeApp("a", {"render.failed"}), MakeApp("b", {"*"})}) {
    apps[app.id()] = std::make_shared<const v1::App>(app);
  }
  AppSet set(apps);
  EXPECT_EQ(set.Route("a", "video.ready", {}).size(), 1u);
  EXPECT_EQ(set.Route("a", "render.failed", {}).size(), 1u);
  EXPECT_EQ(set.Route("b", "video.ready", {}).size(), 1u);
  EXPECT_EQ(set.Route("c", "video.ready", {}).size(), 0u);
  EXPECT_EQ(set.OfTenant("a").size(), 2u);
}

class AppCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create("appcache");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    StartServer("127.0.0.1:0");
  }

  void StartServer(const std::string& listen) {
    subscription::ServerOptions options;
    options.listen = listen;
    options.postgres.url = db_->url();
    options.admin_token = kTestAdminToken;
    options.master_key = testing::kTestMasterKey;
    options.postgres.pool_size = 2;
    options.watch_poll_interval = absl::Milliseconds(50);
    auto server = subscription::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::AppService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  v1::App Create(const std::string& tenant, const std::string& pattern) {
    v1::CreateAppRequest request;
    request.mutable_app()->set_tenant(tenant);
    request.mutable_app()->set_name("cache test");
    request.mutable_app()->set_url("https://hooks.example.com/" + tenant);
    request.mutable_app()->add_event_types(pattern);
    request.set_skip_connection_test(true);
    v1::App app;
    grpc::Status status = stub_->CreateApp(ClientContext(kTestAdminToken).get(), request, &app);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return app;
  }

  AppCacheOptions CacheOptions() {
    AppCacheOptions options;
    options.subscription_addr = "127.0.0.1:" + std::to_string(server_->port());
    options.token = kTestAdminToken;
    options.min_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(200);
    return options;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<subscription::Server> server_;
  std::unique_ptr<v1::AppService::Stub> stub_;
};

TEST_F(AppCacheTest, SyncsThenFollowsChangesWithinASecond) {
  v1::App first = Create("acme", "video.*");
  AppCache cache(CacheOptions());
  EXPECT_FALSE(cache.synced());
  EXPECT_EQ(cache.Staleness(), absl::InfiniteDuration());
  cache.Start();
  ASSERT_TRUE(cache.WaitSynced(absl::Seconds(10)));
  EXPECT_EQ(cache.Current()->size(), 1u);
  EXPECT_EQ(cache.Current()->Route("acme", "video.ready", {}).size(), 1u);
  EXPECT_EQ(cache.Staleness(), absl::ZeroDuration());

  v1::App second = Create("acme", "render.failed");
  EXPECT_TRUE(
      PollUntil([&] { return cache.Current()->Find(second.id()) != nullptr; }, absl::Seconds(1)));

  v1::DisableAppRequest disable;
  disable.set_id(first.id());
  v1::App out;
  ASSERT_TRUE(stub_->DisableApp(ClientContext(kTestAdminToken).get(), disable, &out).ok());
  // Still routed (its deliveries are held), now as disabled.
  EXPECT_TRUE(PollUntil(
      [&] {
        auto routed = cache.Current()->Route("acme", "video.ready", {});
        return routed.size() == 1 && !routed[0]->active();
      },
      absl::Seconds(1)));

  v1::DeleteAppRequest del;
  del.set_id(second.id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub_->DeleteApp(ClientContext(kTestAdminToken).get(), del, &empty).ok());
  EXPECT_TRUE(
      PollUntil([&] { return cache.Current()->Find(second.id()) == nullptr; }, absl::Seconds(1)));
  // Secrets were not asked for.
  EXPECT_EQ(cache.Current()->Find(first.id())->signing_keys(0).secret(), "");
}

TEST_F(AppCacheTest, ResumesAfterTheServerRestartsWithoutMissingChanges) {
  v1::App before = Create("acme", "*");
  AppCacheOptions options = CacheOptions();
  options.include_secrets = true;
  AppCache cache(options);
  cache.Start();
  ASSERT_TRUE(cache.WaitSynced(absl::Seconds(10)));
  EXPECT_TRUE(
      absl::StartsWith(cache.Current()->Find(before.id())->signing_keys(0).secret(), "whsec_"));
  int port = server_->port();
  server_.reset();  // the stream breaks; the cache keeps its last view
  EXPECT_EQ(cache.Current()->size(), 1u);
  EXPECT_TRUE(PollUntil([&] { return cache.Staleness() > absl::ZeroDuration(); }));

  // A change lands while the cache is disconnected, then the server comes back on its port.
  StartServer("127.0.0.1:0");
  v1::App during = Create("acme", "video.ready");
  server_.reset();
  StartServer("127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(PollUntil([&] { return cache.Current()->Find(during.id()) != nullptr; }));
  EXPECT_NE(cache.Current()->Find(before.id()), nullptr);
  EXPECT_TRUE(PollUntil([&] { return cache.Staleness() == absl::ZeroDuration(); }));
}

}  // namespace
}  // namespace hookd::appcache
