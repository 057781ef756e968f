// hookd-ingest in process, against real Postgres and Redis and a real hookd-subscription.

#include <functional>
#include <future>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "committer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hookd/common/ids.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ingest/server.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/subscription/retention.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/fake_clock.h"
#include "hookd/testing/process.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::ingest {
namespace {

using testing::ClientContext;
using testing::kTestAdminToken;
using testing::PollUntil;

std::string Field(const grpc::Status& status) {
  const std::string& message = status.error_message();
  return message.substr(0, message.find(": "));
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create("ingest");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto redis = testing::TestRedisOptions("ingest");
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *redis;
    StartSubscription();
    StartIngest();
    for (const char* type :
         {"video.ready", "video.sd_encoded", "render.failed", "render.started"}) {
      CreateEventType(type);
    }
  }

  void TearDown() override {
    ingest_.reset();
    subscription_.reset();
    if (!redis_.url.empty()) (void)testing::DeleteKeys(redis_);
  }

  void StartSubscription() {
    subscription::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.postgres.url = db_->url();
    options.admin_token = kTestAdminToken;
    options.master_key = testing::kTestMasterKey;
    options.postgres.pool_size = 3;
    options.watch_poll_interval = absl::Milliseconds(50);
    auto server = subscription::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    subscription_ = std::move(*server);
    auto channel = grpc::CreateChannel(SubscriptionAddr(), grpc::InsecureChannelCredentials());
    apps_ = v1::AppService::NewStub(channel);
    types_ = v1::EventTypeService::NewStub(channel);
  }

  std::string SubscriptionAddr() const {
    return "127.0.0.1:" + std::to_string(subscription_->port());
  }

  ServerOptions IngestOptions() const {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.postgres.url = db_->url();
    options.redis = redis_;
    options.admin_token = kTestAdminToken;
    options.subscription_addr = SubscriptionAddr();
    options.postgres.pool_size = 3;
    options.sweep_interval = absl::Milliseconds(100);
    options.sweep_grace = absl::Milliseconds(500);
    options.catalog_refresh = absl::Milliseconds(200);
    return options;
  }

  void StartIngest(const ServerOptions& options) {
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    ingest_ = std::move(*server);
    ingest_stub_ = v1::IngestService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(ingest_->port()), grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(PollUntil([&] { return ingest_->ready(); }));
  }
  void StartIngest() { StartIngest(IngestOptions()); }

  void CreateEventType(const std::string& name) {
    v1::CreateEventTypeRequest request;
    request.mutable_event_type()->set_name(name);
    v1::EventType out;
    ASSERT_TRUE(types_->CreateEventType(ClientContext(kTestAdminToken).get(), request, &out).ok());
  }

  std::string CreateApp(const std::string& tenant, std::vector<std::string> patterns,
                        std::vector<std::string> channels = {}) {
    v1::CreateAppRequest request;
    v1::App* app = request.mutable_app();
    app->set_tenant(tenant);
    app->set_name("ingest test");
    app->set_url("https://hooks.example.com/" + tenant);
    for (auto& p : patterns) app->add_event_types(p);
    for (auto& c : channels) app->add_channels(c);
    request.set_skip_connection_test(true);
    v1::App out;
    grpc::Status status = apps_->CreateApp(ClientContext(kTestAdminToken).get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out.id();
  }

  v1::PublishRequest Event(const std::string& tenant, const std::string& type,
                           std::vector<std::string> channels = {}) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type(type);
    request.set_payload(R"({"video_id":"v_1","status":"ready"})");
    for (auto& c : channels) request.add_channels(c);
    return request;
  }

  grpc::Status Publish(const v1::PublishRequest& request, v1::PublishResponse* response) {
    return ingest_stub_->Publish(ClientContext(kTestAdminToken).get(), request, response);
  }

  v1::PublishResponse MustPublish(const v1::PublishRequest& request) {
    v1::PublishResponse response;
    grpc::Status status = Publish(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Waits until the app cache of ingest has seen `app_id` (it routes from memory).
  void WaitRouted(const std::string& tenant, const std::string& type, int expected) {
    // Publishing is the only way to observe routing; use an event type nobody else counts.
    ASSERT_TRUE(PollUntil([&] {
      v1::PublishResponse response;
      return Publish(Event(tenant, type), &response).ok() && response.delivery_count() == expected;
    })) << "routing never reached "
        << expected;
  }

  // Deliveries of `event_id` in Postgres in `status`: app ids, sorted.
  std::vector<std::string> DeliveredApps(const std::string& event_id,
                                         v1::DeliveryStatus status = v1::PENDING) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    std::vector<std::string> apps;
    for (const auto& row : txn.exec_params(
             "SELECT app_id FROM delivery_view WHERE event_id = $1 AND status = $2 ORDER BY app_id",
             event_id, static_cast<int>(status))) {
      apps.push_back(row[0].as<std::string>());
    }
    return apps;
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  std::set<std::string> StreamDeliveryIds(const RedisOptions& redis) {
    auto ids = testing::StreamedDeliveryIds(redis);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::set<std::string>();
  }

  std::set<std::string> AllDeliveryIds() {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    std::set<std::string> ids;
    // HELD deliveries (of disabled apps) are not queued.
    for (const auto& row :
         txn.exec("SELECT id FROM delivery_view WHERE status <> " + std::to_string(v1::HELD)))
      ids.insert(row[0].as<std::string>());
    return ids;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  RedisOptions redis_;
  std::unique_ptr<subscription::Server> subscription_;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::EventTypeService::Stub> types_;
  std::unique_ptr<Server> ingest_;
  std::unique_ptr<v1::IngestService::Stub> ingest_stub_;
};

TEST_F(IngestTest, FansOutByPatternChannelAndActiveState) {
  std::string exact = CreateApp("fan", {"video.ready"});
  std::string prefix = CreateApp("fan", {"video.*"});
  std::string all = CreateApp("fan", {"*"});
  std::string other_type = CreateApp("fan", {"render.failed"});
  std::string eu_only = CreateApp("fan", {"video.ready"}, {"eu"});
  std::string disabled = CreateApp("fan", {"*"});
  CreateApp("another-tenant", {"*"});
  v1::DisableAppRequest disable;
  disable.set_id(disabled);
  v1::App out;
  ASSERT_TRUE(apps_->DisableApp(ClientContext(kTestAdminToken).get(), disable, &out).ok());
  // `all` and the disabled app, whose delivery is HELD once the cache has every change above.
  ASSERT_TRUE(PollUntil([&] {
    v1::PublishResponse response;
    return Publish(Event("fan", "render.started"), &response).ok() &&
           response.delivery_count() == 2 &&
           DeliveredApps(response.event_id(), v1::HELD) == std::vector<std::string>{disabled};
  }));

  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  v1::PublishResponse ready = MustPublish(Event("fan", "video.ready"));
  EXPECT_TRUE(absl::StartsWith(ready.event_id(), "evt_"));
  EXPECT_EQ(ready.delivery_count(), 4);
  EXPECT_FALSE(ready.duplicate());
  EXPECT_EQ(DeliveredApps(ready.event_id()), sorted({exact, prefix, all}));
  // The disabled app's delivery is kept, HELD, for EnableApp to resume or discard.
  EXPECT_EQ(DeliveredApps(ready.event_id(), v1::HELD), std::vector<std::string>{disabled});

  v1::PublishResponse on_eu = MustPublish(Event("fan", "video.ready", {"eu"}));
  EXPECT_EQ(DeliveredApps(on_eu.event_id()), sorted({exact, prefix, all, eu_only}));

  v1::PublishResponse encoded = MustPublish(Event("fan", "video.sd_encoded"));
  EXPECT_EQ(DeliveredApps(encoded.event_id()), sorted({prefix, all}));

  v1::PublishResponse failed = MustPublish(Event("fan", "render.failed"));
  EXPECT_EQ(DeliveredApps(failed.event_id()), sorted({all, other_type}));

  v1::PublishResponse nobody = MustPublish(Event("no-apps-tenant", "video.ready"));
  EXPECT_EQ(nobody.delivery_count(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE id = '" + nobody.event_id() + "'"), 1);

  // Every committed delivery reaches a stream.
  EXPECT_TRUE(PollUntil([&] { return StreamDeliveryIds(redis_) == AllDeliveryIds(); }));
  // And its outbox row goes: with the next publish's commit or, publishing having stopped, by
  // the enqueuer after its delete delay.
  EXPECT_TRUE(PollUntil([&] { return Count("SELECT count(*) FROM outbox") == 0; }));
}

// When a delayed delivery is due is decided by ingest's clock: here two days ahead of the real
// one, and the delivery is due exactly an hour after it.
TEST_F(IngestTest, ADelayIsCountedFromTheClock) {
  testing::FakeClock clock(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) +
                           absl::Hours(48));
  ingest_.reset();
  ServerOptions options = IngestOptions();
  options.clock = &clock;
  StartIngest(options);
  CreateApp("clocked", {"*"});
  v1::PublishRequest request = Event("clocked", "video.ready");
  request.mutable_deliver_after()->set_seconds(3600);
  v1::PublishResponse response;
  ASSERT_TRUE(PollUntil(
      [&] { return Publish(request, &response).ok() && response.delivery_count() == 1; }));
  pqxx::connection conn(db_->url());
  pqxx::read_transaction txn(conn);
  pqxx::row row = txn.exec_params1(
      "SELECT status, (extract(epoch FROM next_attempt_time) * 1000000)::bigint"
      " FROM delivery_view WHERE event_id = $1",
      response.event_id());
  EXPECT_EQ(row[0].as<int>(), v1::SCHEDULED);
  EXPECT_EQ(absl::FromUnixMicros(row[1].as<int64_t>()), clock.Now() + absl::Hours(1));
}

TEST_F(IngestTest, PayloadsAreCheckedAgainstTheirTypesSchema) {
  // A VideoPilot render.completed payload's shape (seed 002).
  v1::CreateEventTypeRequest create;
  create.mutable_event_type()->set_name("render.completed");
  create.mutable_event_type()->set_schema(R"({"type":"object","required":["video_id","status"],
      "properties":{"video_id":{"type":"string"},
                    "status":{"enum":["processing","completed","failed"]},
                    "video":{"type":"object","properties":{"quality":{"enum":["high","low"]}}}}})");
  v1::EventType type;
  ASSERT_TRUE(types_->CreateEventType(ClientContext(kTestAdminToken).get(), create, &type).ok());
  CreateApp("schema", {"render.completed"});

  v1::PublishRequest good = Event("schema", "render.completed");
  good.set_payload(R"({"video_id":"v_1","status":"completed","video":{"quality":"high"}})");
  v1::PublishResponse published;
  // The catalog learns of the new type (and compiles its schema), the routing of the app.
  ASSERT_TRUE(
      PollUntil([&] { return Publish(good, &published).ok() && published.delivery_count() == 1; }));

  const int64_t events_before = Count("SELECT count(*) FROM events");
  v1::PublishRequest bad = good;
  bad.set_payload(R"({"video_id":"v_1","status":"completed","video":{"quality":"4k"}})");
  v1::PublishResponse refused;
  grpc::Status status = Publish(bad, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "payload/video/quality: "))
      << status.error_message();
  bad.set_payload(R"({"video_id":"v_1"})");
  status = Publish(bad, &refused);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "payload")) << status.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before);  // nothing stored

  // In a batch the error takes that event's slot; the others are published.
  v1::PublishBatchRequest batch;
  *batch.add_events() = good;
  bad.set_payload(R"({"video_id":7,"status":"failed"})");
  *batch.add_events() = bad;
  v1::PublishBatchResponse answered;
  ASSERT_TRUE(
      ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), batch, &answered).ok());
  ASSERT_EQ(answered.errors_size(), 2);
  EXPECT_EQ(answered.errors(0).code(), 0);
  EXPECT_EQ(answered.errors(1).code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StrContains(answered.errors(1).message(), "payload/video_id: "))
      << answered.errors(1).message();
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before + 1);

  // Types without a schema behave as before.
  EXPECT_EQ(MustPublish(Event("schema", "render.started")).delivery_count(), 0);

  // A stored schema that hookd refuses today (written before the rules, here directly) is not
  // applied, and stops nothing.
  {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    txn.exec(
        "INSERT INTO event_types (name, schema) VALUES ('legacy.type',"
        " '{\"properties\":{\"s\":{\"pattern\":\"^(a|b)*$\"}}}')");
    txn.commit();
  }
  v1::PublishRequest legacy = Event("schema", "legacy.type");
  legacy.set_payload(absl::StrCat(R"({"s":")", std::string(50000, 'a'), R"(c"})"));
  ASSERT_TRUE(PollUntil([&] { return Publish(legacy, &published).ok(); }));
}

TEST_F(IngestTest, ANulCharacterIsRefusedNotCut) {
  CreateApp("nul", {"video.ready"});
  v1::PublishRequest good = Event("nul", "video.ready");
  v1::PublishResponse published;
  ASSERT_TRUE(
      PollUntil([&] { return Publish(good, &published).ok() && published.delivery_count() == 1; }));
  const int64_t events_before = Count("SELECT count(*) FROM events");
  for (auto [field, set] :
       std::vector<std::pair<std::string, std::function<void(v1::PublishRequest&)>>>{
           {"payload",
            [](v1::PublishRequest& r) { r.set_payload(std::string("{\"a\":\"x\0y\"}", 11)); }},
           {"tenant", [](v1::PublishRequest& r) { r.set_tenant(std::string("nul\0x", 5)); }},
           {"idempotency_key",
            [](v1::PublishRequest& r) { r.set_idempotency_key(std::string("k\0", 2)); }}}) {
    v1::PublishRequest bad = good;
    set(bad);
    v1::PublishResponse refused;
    grpc::Status status = Publish(bad, &refused);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_EQ(status.error_message(), field + ": holds a NUL character");
  }
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before);  // nothing stored, not even cut
}

TEST_F(IngestTest, AnAppCreatedAfterStartIsRoutedWithinASecond) {
  v1::PublishResponse before = MustPublish(Event("late", "video.ready"));
  EXPECT_EQ(before.delivery_count(), 0);
  std::string app = CreateApp("late", {"video.ready"});
  absl::Time created = absl::Now();
  v1::PublishResponse after;
  ASSERT_TRUE(PollUntil(
      [&] {
        after = MustPublish(Event("late", "video.ready"));
        return after.delivery_count() == 1;
      },
      absl::Seconds(1), absl::Milliseconds(10)));
  EXPECT_LT(absl::Now() - created, absl::Seconds(1));
  EXPECT_EQ(DeliveredApps(after.event_id()), std::vector<std::string>{app});
}

TEST_F(IngestTest, IdempotencyKeyRepeatsReturnTheFirstEvent) {
  CreateApp("idem", {"*"});
  WaitRouted("idem", "render.started", 1);
  int64_t events_before = Count("SELECT count(*) FROM events");
  v1::PublishRequest request = Event("idem", "video.ready");
  request.set_idempotency_key("order-42");
  v1::PublishResponse first = MustPublish(request);
  EXPECT_FALSE(first.duplicate());
  EXPECT_EQ(first.delivery_count(), 1);
  request.set_payload(R"({"different":"payload"})");  // the key alone decides
  v1::PublishResponse second = MustPublish(request);
  EXPECT_TRUE(second.duplicate());
  EXPECT_EQ(second.event_id(), first.event_id());
  EXPECT_EQ(second.delivery_count(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before + 1);
  EXPECT_EQ(DeliveredApps(first.event_id()).size(), 1u);

  // The same key of another tenant is another event.
  request.set_tenant("idem-other");
  v1::PublishResponse other = MustPublish(request);
  EXPECT_FALSE(other.duplicate());
  EXPECT_NE(other.event_id(), first.event_id());

  // Inside one batch, and concurrently from many callers: one event per key.
  v1::PublishBatchRequest batch;
  for (int i = 0; i < 3; ++i) {
    v1::PublishRequest* e = batch.add_events();
    *e = Event("idem", "video.ready");
    e->set_idempotency_key("batch-key");
  }
  v1::PublishBatchResponse answered;
  ASSERT_TRUE(
      ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), batch, &answered).ok());
  ASSERT_EQ(answered.results_size(), 3);
  EXPECT_FALSE(answered.results(0).duplicate());
  EXPECT_TRUE(answered.results(1).duplicate());
  EXPECT_TRUE(answered.results(2).duplicate());
  EXPECT_EQ(answered.results(1).event_id(), answered.results(0).event_id());

  std::vector<std::thread> threads;
  std::vector<v1::PublishResponse> responses(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      v1::PublishRequest r = Event("idem", "video.ready");
      r.set_idempotency_key("concurrent-key");
      responses[i] = MustPublish(r);
    });
  }
  for (auto& t : threads) t.join();
  int originals = 0;
  for (const auto& r : responses) {
    EXPECT_EQ(r.event_id(), responses[0].event_id());
    originals += r.duplicate() ? 0 : 1;
  }
  EXPECT_EQ(originals, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE idempotency_key = 'concurrent-key'"), 1);
}

TEST_F(IngestTest, AnExpiredIdempotencyKeyMakesANewEvent) {
  ingest_.reset();
  ServerOptions options = IngestOptions();
  options.idempotency_window = absl::Seconds(1);
  StartIngest(options);
  v1::PublishRequest request = Event("idem-window", "video.ready");
  request.set_idempotency_key("k");
  v1::PublishResponse first = MustPublish(request);
  EXPECT_TRUE(MustPublish(request).duplicate());
  // The window is measured by Postgres' clock: wait until the key is older than a second.
  ASSERT_TRUE(PollUntil([&] {
    return Count(
               "SELECT count(*) FROM idempotency_keys WHERE key = 'k' AND"
               " create_time < now() - interval '1 second'") == 1;
  }));
  v1::PublishResponse again = MustPublish(request);
  EXPECT_FALSE(again.duplicate());
  EXPECT_NE(again.event_id(), first.event_id());
}

TEST_F(IngestTest, EveryValidationErrorNamesItsFieldAndStoresNothing) {
  v1::ArchiveEventTypeRequest archive;
  archive.set_name("render.started");
  v1::EventType archived;
  ASSERT_TRUE(
      types_->ArchiveEventType(ClientContext(kTestAdminToken).get(), archive, &archived).ok());
  struct Case {
    std::string field;
    grpc::StatusCode code;
    std::function<void(v1::PublishRequest&)> mutate;
  };
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  std::vector<Case> cases = {
      {"tenant", kInvalid, [](auto& r) { r.set_tenant(""); }},
      {"tenant", kInvalid, [](auto& r) { r.set_tenant("no spaces"); }},
      {"event_type", kInvalid, [](auto& r) { r.set_event_type(""); }},
      {"event_type", kInvalid, [](auto& r) { r.set_event_type("Video.Ready"); }},
      {"event_type", kInvalid, [](auto& r) { r.set_event_type("video.unknown"); }},
      {"event_type", kInvalid, [](auto& r) { r.set_event_type("render.started"); }},  // archived
      {"payload", kInvalid, [](auto& r) { r.set_payload(""); }},
      {"payload", kInvalid, [](auto& r) { r.set_payload("{not json"); }},
      {"payload", kInvalid, [](auto& r) { r.set_payload("[1,2,3]"); }},
      {"payload", kInvalid, [](auto& r) { r.set_payload(R"({"a":1} {"b":2})"); }},
      {"payload", grpc::StatusCode::RESOURCE_EXHAUSTED,
       [](auto& r) { r.set_payload(R"({"blob":")" + std::string(256 * 1024, 'x') + R"("})"); }},
      {"idempotency_key", kInvalid, [](auto& r) { r.set_idempotency_key(std::string(257, 'k')); }},
      {"channels[0]", kInvalid, [](auto& r) { r.add_channels("has space"); }},
      {"channels[1]", kInvalid,
       [](auto& r) {
         r.add_channels("eu");
         r.add_channels("eu");
       }},
      {"channels", kInvalid,
       [](auto& r) {
         for (int i = 0; i < 11; ++i) r.add_channels("c" + std::to_string(i));
       }},
      {"traceparent", kInvalid, [](auto& r) { r.set_traceparent("not-a-trace"); }},
  };
  int64_t events_before = Count("SELECT count(*) FROM events");
  for (const Case& c : cases) {
    v1::PublishRequest request = Event("valid-tenant", "video.ready");
    c.mutate(request);
    v1::PublishResponse response;
    grpc::Status status = Publish(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.field << ": " << status.error_message();
    EXPECT_EQ(Field(status), c.field) << status.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before);

  // A payload just under the limit and a valid traceparent are fine.
  v1::PublishRequest big = Event("valid-tenant", "video.ready");
  big.set_payload(R"({"blob":")" + std::string(256 * 1024 - 11, 'x') + R"("})");
  ASSERT_EQ(big.payload().size(), 256u * 1024);
  big.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  MustPublish(big);

  v1::PublishResponse response;
  EXPECT_EQ(ingest_stub_->Publish(ClientContext("").get(), Event("t", "video.ready"), &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      ingest_stub_->Publish(ClientContext("wrong").get(), Event("t", "video.ready"), &response)
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IngestTest, PayloadIsStoredByteForByte) {
  // Odd spacing, key order, escapes and non-ASCII text must survive untouched.
  const std::string payload =
      "{ \"title\" : \"\xC3\xA9t\xC3\xA9 \xE2\x9C\x93\",\n\t\"z\":1, \"a\" : [ 1.50, -0e0 ],"
      "\"esc\":\"\\u00e9\\n\" }";
  v1::PublishRequest request = Event("bytes", "video.ready");
  request.set_payload(payload);
  request.add_channels("eu");
  v1::PublishResponse published = MustPublish(request);
  v1::GetEventRequest get;
  get.set_id(published.event_id());
  v1::Event event;
  ASSERT_TRUE(ingest_stub_->GetEvent(ClientContext(kTestAdminToken).get(), get, &event).ok());
  EXPECT_EQ(event.payload(), payload);
  EXPECT_EQ(event.tenant(), "bytes");
  EXPECT_EQ(event.event_type(), "video.ready");
  ASSERT_EQ(event.channels_size(), 1);
  EXPECT_EQ(event.channels(0), "eu");
  pqxx::connection conn(db_->url());
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec_params1("SELECT payload FROM events WHERE id = $1", published.event_id())[0]
                .as<std::string>(),
            payload);
  get.set_id("evt_01JDXK8N5V3Q9G2M7T4R6W8Y0Z");
  EXPECT_EQ(ingest_stub_->GetEvent(ClientContext(kTestAdminToken).get(), get, &event).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(IngestTest, BatchAnswersEachEventInOrder) {
  std::string app = CreateApp("batch", {"video.*"});
  WaitRouted("batch", "video.sd_encoded", 1);
  v1::PublishBatchRequest batch;
  *batch.add_events() = Event("batch", "video.ready");
  *batch.add_events() = Event("batch", "video.nope");  // not in the catalog
  *batch.add_events() = Event("batch", "render.failed");
  v1::PublishBatchResponse response;
  ASSERT_TRUE(
      ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), batch, &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  ASSERT_EQ(response.errors_size(), 3);
  EXPECT_EQ(response.errors(0).code(), 0);
  EXPECT_EQ(response.results(0).delivery_count(), 1);
  EXPECT_EQ(response.errors(1).code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StartsWith(response.errors(1).message(), "events[1].event_type: "));
  EXPECT_EQ(response.results(1).event_id(), "");
  EXPECT_EQ(response.errors(2).code(), 0);
  EXPECT_EQ(response.results(2).delivery_count(), 0);
  EXPECT_EQ(DeliveredApps(response.results(0).event_id()), std::vector<std::string>{app});

  const int64_t events_before = Count("SELECT count(*) FROM events");
  v1::PublishBatchRequest too_many;
  for (int i = 0; i < 1001; ++i) *too_many.add_events() = Event("batch", "video.ready");
  grpc::Status status =
      ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), too_many, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "events: at most 1000 per batch (--max_batch_events); got 1001");
  // 65 MiB in 260 events of 256 KiB: gRPC refuses it before any handler runs.
  v1::PublishBatchRequest too_large;
  for (int i = 0; i < 260; ++i) {
    v1::PublishRequest* e = too_large.add_events();
    *e = Event("batch", "video.ready");
    e->set_payload(R"({"x":")" + std::string(256 * 1024 - 10, 'x') + R"("})");
  }
  ASSERT_GT(too_large.ByteSizeLong(), static_cast<size_t>(kMaxRequestBytes));
  status = ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), too_large, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events_before);
  // Just under the limit goes through.
  too_large.mutable_events()->DeleteSubrange(250, 10);
  ASSERT_LT(too_large.ByteSizeLong(), static_cast<size_t>(kMaxRequestBytes));
  status = ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), too_large, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.results_size(), 250);
  v1::PublishBatchRequest empty;
  EXPECT_EQ(
      Field(ingest_stub_->PublishBatch(ClientContext(kTestAdminToken).get(), empty, &response)),
      "events");
}

TEST_F(IngestTest, UnavailableUntilTheFirstAppSync) {
  ServerOptions options = IngestOptions();
  options.subscription_addr = "127.0.0.1:" + std::to_string(testing::FreePort());  // nobody
  auto lonely = Server::Start(options);
  ASSERT_TRUE(lonely.ok()) << lonely.status();
  auto stub = v1::IngestService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*lonely)->port()), grpc::InsecureChannelCredentials()));
  v1::PublishResponse response;
  grpc::Status status =
      stub->Publish(ClientContext(kTestAdminToken).get(), Event("t", "video.ready"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE((*lonely)->ready());
}

TEST_F(IngestTest, RedisDownDuringPublishingLosesNoAcknowledgedDelivery) {
  // Redis keeps its append-only file across the restart, as deployed; Redis coming back empty is
  // the worker's recovery to prove.
  testing::ScratchRedis redis(/*persistent=*/true);
  ASSERT_TRUE(redis.Start().ok());
  ingest_.reset();
  ServerOptions options = IngestOptions();
  options.redis.url = redis.url();
  const RedisOptions scratch = options.redis;
  StartIngest(options);
  CreateApp("outage", {"*"});
  WaitRouted("outage", "render.started", 1);

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::thread publisher([&] {
    while (!stop.load()) {
      v1::PublishResponse response;
      if (Publish(Event("outage", "video.ready"), &response).ok()) acknowledged.fetch_add(1);
    }
  });
  ASSERT_TRUE(PollUntil([&] { return acknowledged.load() >= 20; }));
  redis.Stop();
  int at_stop = acknowledged.load();
  // Publishing goes on while Redis is away: Postgres alone makes a publish durable.
  ASSERT_TRUE(PollUntil([&] { return acknowledged.load() >= at_stop + 50; }));
  EXPECT_GT(Count("SELECT count(*) FROM outbox"), 0);
  ASSERT_TRUE(redis.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return acknowledged.load() >= at_stop + 100; }));
  stop.store(true);
  publisher.join();

  // Every acknowledged delivery is in Postgres and, once the sweeper ran, on a stream.
  std::set<std::string> committed = AllDeliveryIds();
  EXPECT_GE(static_cast<int>(committed.size()), acknowledged.load());
  std::set<std::string> streamed;
  ASSERT_TRUE(PollUntil(
      [&] {
        streamed = StreamDeliveryIds(scratch);
        return std::includes(streamed.begin(), streamed.end(), committed.begin(),
                             committed.end()) &&
               Count("SELECT count(*) FROM outbox") == 0;
      },
      absl::Seconds(20), absl::Milliseconds(200)))
      << "missing from the streams: " << committed.size() << " committed, " << streamed.size()
      << " streamed";
}

// A publish for a day the delivery log has no partition for is refused with UNAVAILABLE and
// stores nothing: it is never acknowledged and then lost. The retention leader's next pass makes
// the day, and publishing works again.
TEST_F(IngestTest, ADayWithoutAPartitionRefusesPublishesUntilTheLeaderMakesIt) {
  CreateApp("nopart", {"video.ready"});
  WaitRouted("nopart", "video.ready", 1);
  // The outbox rows of those publishes go once they are on the streams.
  ASSERT_TRUE(PollUntil([&] { return Count("SELECT count(*) FROM outbox") == 0; }));
  const std::string today = "_p" + absl::FormatTime("%Y%m%d", absl::Now(), absl::UTCTimeZone());
  {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    for (const char* table : {"attempts", "deliveries", "events"}) {
      txn.exec(std::string("ALTER TABLE ") + table + " DETACH PARTITION " + table + today);
      txn.exec(std::string("DROP TABLE ") + table + today);
    }
    txn.commit();
  }
  v1::PublishResponse response;
  grpc::Status status = Publish(Event("nopart", "video.ready"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no partition")) << status.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);  // the day's rows went with its tables
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 0);

  // The leader's next pass, here rather than in 10 minutes: hookd-subscription stops (its
  // retention gives up the leadership; ingest routes from its cache meanwhile) and a retention
  // of this test's takes over.
  subscription_.reset();
  auto retention = subscription::Retention::Create(db_->url(), subscription::RetentionOptions());
  ASSERT_TRUE(retention.ok()) << retention.status();
  auto pass = (*retention)->RunOnce(absl::Now());
  ASSERT_TRUE(pass.ok()) << pass.status();
  ASSERT_TRUE(pass->leader);
  EXPECT_EQ(pass->partitions_created, 3);
  const v1::PublishResponse published = MustPublish(Event("nopart", "video.ready"));
  EXPECT_EQ(published.delivery_count(), 1);
  EXPECT_EQ(DeliveredApps(published.event_id()).size(), 1u);
}

TEST_F(IngestTest, TheSweeperEnqueuesBatchesNobodyEnqueued) {
  // A batch committed by a process that died before its XADD looks exactly like this row.
  // Ids of today: a delivery goes to the partition of its id's day.
  const std::string orphan1 = IdLowerBoundAt("dlv", absl::Now()).substr(0, 14) + "orphan1";
  const std::string orphan2 = IdLowerBoundAt("dlv", absl::Now()).substr(0, 14) + "orphan2";
  pqxx::connection conn(db_->url());
  pqxx::work txn(conn);
  txn.exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + orphan1 +
           "', 'evt_orphan', 'app_x', 't', 'video.ready'), ('" + orphan2 +
           "', 'evt_orphan', 'app_y', 't', 'video.ready')");
  txn.exec("INSERT INTO outbox (messages, create_time) VALUES ('" + orphan1 +
           " evt_orphan app_x\n" + orphan2 + " evt_orphan app_y\n', now() - interval '1 minute')");
  txn.commit();
  std::set<std::string> streamed;
  ASSERT_TRUE(PollUntil([&] {
    streamed = StreamDeliveryIds(redis_);
    return streamed.count(orphan1) == 1 && streamed.count(orphan2) == 1;
  }));
  EXPECT_TRUE(PollUntil([&] { return Count("SELECT count(*) FROM outbox") == 0; }));
}

TEST_F(IngestTest, AFailedPublishHandsTheEnqueuedOutboxRowsBack) {
  // The outbox rows of enqueued batches are deleted by the next publish transaction. When that
  // transaction fails they must go back to the enqueuer: lost, they would stay in the outbox
  // until the sweeper enqueued their deliveries a second time.
  ingest_.reset();  // only this test's committer and enqueuer touch the outbox
  {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    txn.exec(
        "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$");
    txn.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW"
        " WHEN (NEW.tenant = 'refused') EXECUTE FUNCTION refuse_event()");
    txn.commit();
  }
  auto pool = db::PgPool::Create({.url = db_->url(), .pool_size = 2});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto queue = queue::DeliveryQueue::Create(redis_);
  ASSERT_TRUE(queue.ok()) << queue.status();
  // Enqueued rows wait for a publish to delete them for longer than the test runs.
  ledger::Enqueuer enqueuer(**pool, **queue, {.delete_delay = absl::Hours(1)});
  Committer committer(**pool, enqueuer, {.threads = 1});
  auto publish = [&](const std::string& tenant) {
    v1::PublishRequest request = Event(tenant, "video.ready");
    std::promise<absl::Status> result;
    committer.Submit({.events = {{.request = &request, .routes = {.pending = {"app_" + tenant}}}},
                      .done = [&](absl::Status status, std::vector<v1::PublishResponse>) {
                        result.set_value(std::move(status));
                      }});
    return result.get_future().get();
  };

  ASSERT_TRUE(publish("kept").ok());
  const int64_t row = Count("SELECT id FROM outbox");
  // The enqueuer holds the row once its batch is on the stream.
  std::vector<int64_t> enqueued;
  ASSERT_TRUE(PollUntil([&] {
    enqueued = enqueuer.TakeEnqueued();
    return !enqueued.empty();
  }));
  EXPECT_EQ(enqueued, std::vector<int64_t>{row});
  enqueuer.ReturnEnqueued(enqueued);

  // This transaction took the row, failed, and gave it back before answering.
  EXPECT_EQ(publish("refused").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE id = " + std::to_string(row)), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 1);
  enqueued = enqueuer.TakeEnqueued();
  EXPECT_EQ(enqueued, std::vector<int64_t>{row});
  enqueuer.ReturnEnqueued(enqueued);

  // So the next publish deletes it.
  ASSERT_TRUE(publish("next").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE id = " + std::to_string(row)), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 2);
}

}  // namespace
}  // namespace hookd::ingest
