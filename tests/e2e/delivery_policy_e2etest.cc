// Delivery policy end to end: real hookd-subscription, hookd-ingest and hookd-worker processes,
// real Postgres and Redis, and a real HTTP receiver in this process. Held deliveries: events of a
// disabled app are kept HELD, then resumed in publish order or discarded by EnableApp.

#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/common/proto_time.h"
#include "hookd/crypto/signing.h"
#include "hookd/testing/metrics_text.h"
#include "hookd/testing/process.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

class DeliveryPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto bed = TestBed::Create("policy_e2e");
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = bed->release();
    absl::Status started = bed_->cluster->StartAll({"video.ready"});
    ASSERT_TRUE(started.ok()) << started;
    receiver_ = new Receiver();
  }

  static void TearDownTestSuite() {
    delete bed_;
    bed_ = nullptr;
    delete receiver_;
    receiver_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(bed_, nullptr);
    apps_ = v1::AppService::NewStub(bed_->cluster->subscription_channel());
    log_ = v1::DeliveryService::NewStub(bed_->cluster->subscription_channel());
    ingest_ = v1::IngestService::NewStub(bed_->cluster->ingest_channel());
  }

  const std::string& token() const { return bed_->cluster->admin_token(); }

  // An app of `tenant` posting to the receiver's `path`, subscribed to video.ready, then
  // changed by `customize`.
  v1::App CreateApp(const std::string& tenant, const std::string& path,
                    const std::function<void(v1::App&)>& customize = nullptr) {
    v1::App app;
    app.set_tenant(tenant);
    app.set_name("policy " + path);
    app.set_url(receiver_->url(path));
    app.add_event_types("video.ready");
    // Three attempts a second apart, which the test workers scale to milliseconds.
    v1::ExponentialBackoff* backoff = app.mutable_retry()->mutable_exponential();
    backoff->mutable_initial_delay()->set_seconds(1);
    backoff->set_multiplier(1);
    backoff->mutable_max_delay()->set_seconds(1);
    backoff->set_max_attempts(3);
    if (customize) customize(app);
    return bed_->cluster->CreateApp(app);
  }

  v1::App GetApp(const std::string& id) {
    v1::GetAppRequest request;
    request.set_id(id);
    v1::App app;
    EXPECT_TRUE(apps_->GetApp(ClientContext(token()).get(), request, &app).ok());
    return app;
  }

  void Disable(const std::string& id) {
    v1::DisableAppRequest request;
    request.set_id(id);
    v1::App out;
    ASSERT_TRUE(apps_->DisableApp(ClientContext(token()).get(), request, &out).ok());
  }

  grpc::Status Enable(const std::string& id, v1::HeldDeliveries held) {
    v1::EnableAppRequest request;
    request.set_id(id);
    request.set_held_deliveries(held);
    v1::App out;
    return apps_->EnableApp(ClientContext(token()).get(), request, &out);
  }

  // Publishes one event to `tenant`.
  v1::PublishResponse TryPublish(const std::string& tenant, int n) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type("video.ready");
    request.set_payload(absl::StrCat(R"({"n":)", n, "}"));
    v1::PublishResponse response;
    grpc::Status status = ingest_->Publish(ClientContext(token()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Publishes one event to `tenant` once ingest routes it to the tenant's one app (a new app
  // reaches ingest's cache a moment after CreateApp); returns its id.
  std::string Publish(const std::string& tenant, int n) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type("video.ready");
    request.set_payload(absl::StrCat(R"({"n":)", n, "}"));
    return bed_->cluster->PublishRouted(request, 1);
  }

  // Status of every delivery of `app_id`, by event id.
  std::map<std::string, v1::DeliveryStatus> Statuses(const std::string& app_id) {
    std::map<std::string, v1::DeliveryStatus> out;
    v1::ListDeliveriesRequest request;
    request.set_app_id(app_id);
    request.set_page_size(1000);
    v1::ListDeliveriesResponse response;
    EXPECT_TRUE(log_->ListDeliveries(ClientContext(token()).get(), request, &response).ok());
    for (const v1::Delivery& d : response.deliveries()) out[d.event_id()] = d.status();
    return out;
  }

  int ListedWithStatus(const std::string& app_id, v1::DeliveryStatus status) {
    v1::ListDeliveriesRequest request;
    request.set_app_id(app_id);
    request.set_status(status);
    request.set_page_size(1000);
    v1::ListDeliveriesResponse response;
    EXPECT_TRUE(log_->ListDeliveries(ClientContext(token()).get(), request, &response).ok());
    return response.deliveries_size();
  }

  // Webhook ids the receiver got at `path`, with how often each arrived.
  std::map<std::string, int> Arrivals(const std::string& path) {
    std::map<std::string, int> seen;
    for (const auto& request : receiver_->Received(path)) ++seen[request.headers.at("webhook-id")];
    return seen;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  // Disables `app` (the tenant's only app) and publishes `count` events; returns their ids in
  // publish order, every one HELD, and counted so in the app's statistics. A probe first waits
  // until the caches of ingest and the worker know the app (a new one) is disabled: ingest then
  // holds each delivery itself, or the worker holds it unattempted.
  std::vector<std::string> PublishWhileDisabled(const v1::App& app, int count) {
    Disable(app.id());
    std::string probe;
    EXPECT_TRUE(PollUntil([&] {
      if (probe.empty()) {
        // Until ingest's cache has the new app, a publish reaches no app: again.
        v1::PublishResponse response = TryPublish(app.tenant(), -1);
        if (response.delivery_count() != 1) return false;
        probe = response.event_id();
      }
      auto statuses = Statuses(app.id());
      if (statuses[probe] == v1::HELD) return true;
      if (statuses[probe] == v1::SUCCEEDED) probe.clear();  // a stale cache sent it: again
      return false;
    }));
    std::vector<std::string> events = {probe};
    for (int i = 1; i < count; ++i) events.push_back(Publish(app.tenant(), i));
    EXPECT_TRUE(PollUntil([&] {
      auto statuses = Statuses(app.id());
      for (const std::string& event : events) {
        if (statuses[event] != v1::HELD) return false;
      }
      return true;
    })) << "held: "
        << ListedWithStatus(app.id(), v1::HELD);
    for (const std::string& event : events) {
      EXPECT_EQ(Arrivals(ReceiverPath(app)).count(event), 0u) << event << " was sent";
    }
    v1::GetAppStatsRequest stats_request;
    stats_request.set_app_id(app.id());
    v1::AppStats stats;
    EXPECT_TRUE(log_->GetAppStats(ClientContext(token()).get(), stats_request, &stats).ok());
    EXPECT_EQ(stats.deliveries().held(), count);
    EXPECT_EQ(stats.deliveries().pending(), 0);
    EXPECT_EQ(HeldGauge(app.id()), count);
    return events;
  }

  // hookd_subscription_held_deliveries{app_id} as hookd-subscription serves it (sampled at most
  // once a second, so polled).
  double HeldGauge(const std::string& app_id) {
    double value = -1;
    PollUntil([&] {
      auto scrape = testing::ScrapeMetrics(bed_->cluster->subscription_metrics_port());
      if (!scrape.ok()) return false;
      value = scrape->Get("hookd_subscription_held_deliveries", {{"app_id", app_id}}).value_or(-1);
      return value >= 0 && value == ListedWithStatus(app_id, v1::HELD);
    });
    return value;
  }

  static std::string ReceiverPath(const v1::App& app) {
    return app.url().substr(app.url().find('/', std::string("http://").size()));
  }

  static TestBed* bed_;
  static Receiver* receiver_;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::DeliveryService::Stub> log_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
};

TestBed* DeliveryPolicyTest::bed_ = nullptr;
Receiver* DeliveryPolicyTest::receiver_ = nullptr;

TEST_F(DeliveryPolicyTest, EventsOfADisabledAppAreHeldAndResumedInPublishOrder) {
  v1::App app = CreateApp("held-resume", "/held-resume");
  const std::vector<std::string> events = PublishWhileDisabled(app, 20);
  // None was attempted.
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts a JOIN delivery_view d ON d.id = a.delivery_id"
                   " WHERE d.app_id = '" +
                   app.id() + "' AND d.status = " + std::to_string(v1::HELD)),
            0);

  // With no worker reading, the resume's stream entries stay where they were queued: in
  // publish order (one app's deliveries share a stream).
  bed_->cluster->StopWorker("w1");
  ASSERT_TRUE(Enable(app.id(), v1::HELD_DELIVERIES_UNSPECIFIED).ok());  // resume, the default
  std::map<std::string, std::string> event_of;                          // delivery id -> event id
  {
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    for (const auto& row :
         txn.exec("SELECT id, event_id FROM delivery_view WHERE app_id = " + txn.quote(app.id()))) {
      event_of[row[0].as<std::string>()] = row[1].as<std::string>();
    }
  }
  auto streamed = testing::StreamedDeliveryIdsInOrder(bed_->redis);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  std::vector<std::string> queued;
  for (const std::string& delivery : *streamed) {
    if (event_of.count(delivery) > 0) queued.push_back(event_of[delivery]);
  }
  EXPECT_EQ(queued, events);

  ASSERT_TRUE(bed_->cluster->StartWorker("w1").ok());
  ASSERT_TRUE(PollUntil([&] {
    auto statuses = Statuses(app.id());
    for (const std::string& event : events) {
      if (statuses[event] != v1::SUCCEEDED) return false;
    }
    return true;
  }));
  // Each arrived once.
  std::map<std::string, int> arrivals = Arrivals("/held-resume");
  for (const std::string& event : events) EXPECT_EQ(arrivals[event], 1) << event;
}

TEST_F(DeliveryPolicyTest, DiscardMarksHeldDeliveriesDiscardedAndNeverSendsThem) {
  v1::App app = CreateApp("held-discard", "/held-discard");
  const std::vector<std::string> events = PublishWhileDisabled(app, 5);
  ASSERT_TRUE(Enable(app.id(), v1::HELD_DELIVERIES_DISCARD).ok());
  auto statuses = Statuses(app.id());
  for (const std::string& event : events) EXPECT_EQ(statuses[event], v1::DISCARDED) << event;
  EXPECT_EQ(HeldGauge(app.id()), 0);  // back to 0 once nothing is held
  // The app is active again: the next event arrives, and nothing discarded ever does.
  v1::PublishRequest request;
  request.set_tenant("held-discard");
  request.set_event_type("video.ready");
  request.set_payload(R"({"after":true})");
  std::string after;
  ASSERT_TRUE(PollUntil([&] {
    v1::PublishResponse response;
    if (!ingest_->Publish(ClientContext(token()).get(), request, &response).ok()) return false;
    after = response.event_id();
    return Statuses(app.id())[after] != v1::HELD;  // routed to the app as enabled
  }));
  ASSERT_TRUE(PollUntil([&] { return Arrivals("/held-discard").count(after) == 1; }));
  std::map<std::string, int> arrivals = Arrivals("/held-discard");
  for (const std::string& event : events) EXPECT_EQ(arrivals.count(event), 0u) << event;

  // A bad choice is named and changes nothing.
  grpc::Status status = Enable(app.id(), static_cast<v1::HeldDeliveries>(7));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().substr(0, status.error_message().find(':')), "held_deliveries");
}

TEST_F(DeliveryPolicyTest, AHeldDeliveryKeepsItsScheduleWhenResumed) {
  v1::App app = CreateApp("held-later", "/held-later");
  PublishWhileDisabled(app, 1);  // the caches know the app is disabled
  v1::PublishRequest request;
  request.set_tenant("held-later");
  request.set_event_type("video.ready");
  request.set_payload(R"({"later":true})");
  request.mutable_deliver_after()->set_seconds(5);
  v1::PublishResponse response;
  ASSERT_TRUE(ingest_->Publish(ClientContext(token()).get(), request, &response).ok());
  ASSERT_TRUE(PollUntil([&] { return Statuses(app.id())[response.event_id()] == v1::HELD; }));
  ASSERT_TRUE(Enable(app.id(), v1::HELD_DELIVERIES_RESUME).ok());
  // Resumed before its time: SCHEDULED at its due time, then delivered then, not at once.
  v1::ListDeliveriesRequest list;
  list.set_app_id(app.id());
  list.set_status(v1::SCHEDULED);
  v1::ListDeliveriesResponse scheduled;
  ASSERT_TRUE(log_->ListDeliveries(ClientContext(token()).get(), list, &scheduled).ok());
  ASSERT_EQ(scheduled.deliveries_size(), 1);
  EXPECT_EQ(scheduled.deliveries(0).event_id(), response.event_id());
  const auto& next = scheduled.deliveries(0).next_attempt_time();
  const absl::Time due = ToAbslTime(next);
  ASSERT_TRUE(PollUntil([&] { return Arrivals("/held-later").count(response.event_id()) == 1; },
                        absl::Seconds(15)));
  for (const auto& r : receiver_->Received("/held-later")) {
    if (r.headers.at("webhook-id") == response.event_id()) {
      EXPECT_GE(r.at, due);
      EXPECT_LE(r.at, due + absl::Seconds(1));
    }
  }
}

TEST_F(DeliveryPolicyTest, AWorkerKilledDuringAResumeLosesNothing) {
  v1::App app = CreateApp("held-kill", "/held-kill");
  // The receiver is slow, so the resume is under way when the worker dies.
  receiver_->Handle("/held-kill", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = absl::Milliseconds(20);
    return response;
  });
  const std::vector<std::string> events = PublishWhileDisabled(app, 200);
  ASSERT_TRUE(Enable(app.id(), v1::HELD_DELIVERIES_RESUME).ok());
  ASSERT_TRUE(PollUntil([&] { return !receiver_->Received("/held-kill").empty(); }));
  bed_->cluster->worker("w1").Signal(SIGKILL);
  bed_->cluster->StopWorker("w1");
  ASSERT_TRUE(bed_->cluster->StartWorker("w2").ok());
  // Every one arrives at least once: those the dead worker had taken come back after the
  // visibility timeout.
  ASSERT_TRUE(PollUntil(
      [&] {
        std::map<std::string, int> arrivals = Arrivals("/held-kill");
        for (const std::string& event : events) {
          if (arrivals.count(event) == 0) return false;
        }
        return true;
      },
      absl::Seconds(60)))
      << Arrivals("/held-kill").size() << " of " << events.size() << " arrived";
  EXPECT_EQ(ListedWithStatus(app.id(), v1::HELD), 0);
}

TEST_F(DeliveryPolicyTest, PayloadsThatFailTheirTypesSchemaAreRefusedWithThePointer) {
  auto types = v1::EventTypeService::NewStub(bed_->cluster->subscription_channel());
  v1::CreateEventTypeRequest create;
  create.mutable_event_type()->set_name("render.failed");
  create.mutable_event_type()->set_schema(
      R"({"type":"object","required":["render_job_id","error"],"properties":{)"
      R"("render_job_id":{"type":"string"},"error":{"type":"string","maxLength":200},)"
      R"("quality":{"enum":["high","low"]}}})");
  v1::EventType type;
  ASSERT_TRUE(types->CreateEventType(ClientContext(token()).get(), create, &type).ok());
  v1::PublishRequest request;
  request.set_tenant("schema-e2e");
  request.set_event_type("render.failed");
  request.set_payload(R"({"render_job_id":"r_1","error":"timeout","quality":"high"})");
  v1::PublishResponse response;
  // Valid: published (once ingest's catalog has the new type).
  ASSERT_TRUE(PollUntil(
      [&] { return ingest_->Publish(ClientContext(token()).get(), request, &response).ok(); }));
  EXPECT_FALSE(response.event_id().empty());
  request.set_payload(R"({"render_job_id":"r_1","error":"timeout","quality":"4k"})");
  grpc::Status status = ingest_->Publish(ClientContext(token()).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "payload/quality: Failed to match against any enum values.");
  // A schema with a regular expression is refused, naming where.
  create.mutable_event_type()->set_name("render.other");
  create.mutable_event_type()->set_schema(R"({"properties":{"id":{"pattern":"^(a|b)*$"}}})");
  status = types->CreateEventType(ClientContext(token()).get(), create, &type);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(),
                               "event_type.schema: pattern at /properties/id is not supported"))
      << status.error_message();
}

// A receiver answering `status` to every request.
Receiver::Handler Answer(int status) {
  return [status](const Receiver::Request&) {
    Receiver::Response response;
    response.status = status;
    return response;
  };
}

TEST_F(DeliveryPolicyTest, PermanentErrorsDisableAppsThatAskForIt) {
  receiver_->Handle("/perm-401", Answer(401));
  receiver_->Handle("/perm-503", Answer(503));
  receiver_->Handle("/default-401", Answer(401));
  const auto disable_on_permanent_error = [](v1::App& app) {
    app.set_disable_on_permanent_error(true);
  };
  v1::App unauthorized = CreateApp("perm-401", "/perm-401", disable_on_permanent_error);
  v1::App unavailable = CreateApp("perm-503", "/perm-503", disable_on_permanent_error);
  v1::App by_default = CreateApp("default-401", "/default-401");
  EXPECT_TRUE(unauthorized.disable_on_permanent_error());
  EXPECT_FALSE(by_default.disable_on_permanent_error());
  const std::string first = Publish("perm-401", 1);
  Publish("perm-503", 1);
  Publish("default-401", 1);

  // The first 401 disables the app, naming the status; its retry is held, not sent.
  ASSERT_TRUE(PollUntil([&] { return !GetApp(unauthorized.id()).active(); }));
  EXPECT_EQ(GetApp(unauthorized.id()).disabled_reason(), "non-transient error: HTTP 401");
  ASSERT_TRUE(PollUntil([&] { return Statuses(unauthorized.id())[first] == v1::HELD; }));
  EXPECT_EQ(receiver_->Received("/perm-401").size(), 1u);

  // A 503 is transient, and a 401 disables nothing by default: every attempt is made and the
  // apps stay active.
  for (const v1::App& app : {unavailable, by_default}) {
    ASSERT_TRUE(PollUntil([&] { return ListedWithStatus(app.id(), v1::FAILED) == 1; }))
        << app.tenant();
    EXPECT_TRUE(GetApp(app.id()).active()) << app.tenant();
    EXPECT_EQ(receiver_->Received("/" + app.tenant()).size(), 3u) << app.tenant();
  }
}

// Operational events: an app failing and disabled by its failures is reported, signed, to the
// operations tenant's apps (hookd-ops, the default); an operations app that fails is not reported
// to itself.
TEST_F(DeliveryPolicyTest, AnAppDisabledByFailuresIsReportedToTheOperationsTenant) {
  receiver_->Handle("/ops-source", Answer(500));
  receiver_->Handle("/ops-broken", Answer(500));
  const v1::App watcher =
      CreateApp("hookd-ops", "/ops", [](v1::App& app) { app.set_event_types(0, "hookd.*"); });
  ASSERT_FALSE(watcher.secret().empty());
  // An operations app that fails every request and is disabled by its first failed delivery.
  const v1::App broken = CreateApp("hookd-ops", "/ops-broken", [](v1::App& app) {
    app.set_event_types(0, "hookd.delivery.exhausted");
    app.set_disable_after_failures(1);
  });
  // An endpoint that is gone: its first delivery fails for good and disables its app.
  receiver_->Handle("/ops-gone", Answer(410));
  const v1::App gone = CreateApp("ops-gone", "/ops-gone");
  Publish("ops-gone", 0);
  ASSERT_TRUE(PollUntil([&] { return !GetApp(gone.id()).active(); }));
  // The source fails each of its deliveries (3 attempts); 4 consecutive ones disable it.
  const v1::App source = CreateApp("ops-source", "/ops-source",
                                   [](v1::App& app) { app.set_disable_after_failures(4); });
  std::vector<std::string> events;
  for (int i = 0; i < 4; ++i) {
    events.push_back(Publish("ops-source", i));
    // One at a time, so that the streak passes half-way (2) in a batch of its own.
    ASSERT_TRUE(PollUntil([&] { return Statuses(source.id())[events.back()] == v1::FAILED; })) << i;
  }
  ASSERT_TRUE(PollUntil([&] { return !GetApp(source.id()).active(); }));

  // Every request to /ops, by (type, the app its data is about), once each: 4 exhausted
  // deliveries and a failing mark of the source, its disabling, the broken app's, and the gone
  // app's one exhausted delivery and disabling.
  using Seen = std::multiset<std::pair<std::string, std::string>>;
  const Seen expected = {
      {"hookd.delivery.exhausted", source.id()}, {"hookd.delivery.exhausted", source.id()},
      {"hookd.delivery.exhausted", source.id()}, {"hookd.delivery.exhausted", source.id()},
      {"hookd.app.failing", source.id()},        {"hookd.app.disabled", source.id()},
      {"hookd.app.disabled", broken.id()},       {"hookd.delivery.exhausted", gone.id()},
      {"hookd.app.disabled", gone.id()}};
  auto seen_at = [&](const std::string& path) {
    Seen seen;
    for (const auto& r : receiver_->Received(path)) {
      nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_discarded()) {
        seen.insert({"not json", r.body});
        continue;
      }
      const std::string about = body["data"].value("app_id", "");
      // Only what this test causes: the suite's other apps may fail meanwhile too.
      if (about != source.id() && about != broken.id() && about != gone.id()) continue;
      seen.insert({body.value("type", ""), about});
    }
    return seen;
  };
  ASSERT_TRUE(
      PollUntil([&] { return seen_at("/ops").size() >= expected.size(); }, absl::Seconds(20)))
      << seen_at("/ops").size();
  EXPECT_EQ(seen_at("/ops"), expected);

  // Each signed with the operations app's key, as any delivery.
  auto key = DecodeSigningSecret(watcher.secret());
  ASSERT_TRUE(key.ok()) << key.status();
  bool disabled_checked = false;
  for (const auto& r : receiver_->Received("/ops")) {
    const std::string id = r.headers.at("webhook-id");
    const int64_t timestamp = std::stoll(r.headers.at("webhook-timestamp"));
    EXPECT_TRUE(VerifyV1(*key, id, timestamp, r.body, r.headers.at("webhook-signature"))) << r.body;
    nlohmann::json body = nlohmann::json::parse(r.body);
    if (body["type"] == "hookd.app.disabled" && body["data"]["app_id"] == source.id()) {
      const nlohmann::json& data = body["data"];
      EXPECT_EQ(data["tenant"], "ops-source");
      EXPECT_EQ(data["app_name"], "policy /ops-source");
      EXPECT_EQ(data["reason"], "disabled after 4 consecutive failed deliveries");
      EXPECT_EQ(data["failure_streak"], 4);
      EXPECT_EQ(data["last_error"]["status_code"], 500);
      EXPECT_EQ(data["last_error"]["error"], "ATTEMPT_ERROR_HTTP_STATUS");
      disabled_checked = true;
    }
    if (body["type"] == "hookd.app.failing") {
      EXPECT_EQ(body["data"]["failure_streak"], 2);
      EXPECT_EQ(body["data"]["disable_after_failures"], 4);
    }
  }
  EXPECT_TRUE(disabled_checked);
  // The broken operations app got exhausted reports of the other apps only: never one of its own
  // failures, nor of its own disabling.
  EXPECT_FALSE(GetApp(broken.id()).active());
  for (const auto& [type, about] : seen_at("/ops-broken")) {
    EXPECT_EQ(type, "hookd.delivery.exhausted");
    EXPECT_TRUE(about == source.id() || about == gone.id()) << about;
  }
  EXPECT_FALSE(seen_at("/ops-broken").empty());

  // Only hookd publishes hookd.* types.
  v1::PublishRequest forged;
  forged.set_tenant("hookd-ops");
  forged.set_event_type("hookd.app.disabled");
  forged.set_payload(R"({"app_id":"app_forged"})");
  v1::PublishResponse response;
  grpc::Status status = ingest_->Publish(ClientContext(token()).get(), forged, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().substr(0, status.error_message().find(':')), "event_type");
}

// Delays: a cluster of its own on a Redis of its own, restarted empty while the deliveries wait.
TEST(DeliveryDelayTest, ScheduledDeliveriesArriveOnTimeThroughARedisRestart) {
  auto bed = TestBed::Create("delay_e2e");
  ASSERT_TRUE(bed.ok()) << bed.status();
  testing::ScratchRedis redis;  // not persistent: it comes back empty
  ASSERT_TRUE(redis.Start().ok());
  Cluster cluster((*bed)->db->url(), redis.url(), (*bed)->redis.key_prefix,
                  (*bed)->redis.partitions);
  ASSERT_TRUE(cluster.StartAll({"video.ready"}).ok());
  Receiver receiver;
  const std::string token = cluster.admin_token();
  auto ingest = v1::IngestService::NewStub(cluster.ingest_channel());
  auto log = v1::DeliveryService::NewStub(cluster.subscription_channel());

  v1::App plain;
  plain.set_tenant("delay");
  plain.set_name("per event");
  plain.set_url(receiver.url("/per-event"));
  plain.add_event_types("video.ready");
  cluster.CreateApp(plain);
  v1::App delayed = plain;
  delayed.set_tenant("app-delay");
  delayed.set_name("per app");
  delayed.set_url(receiver.url("/per-app"));
  delayed.mutable_delivery_delay()->set_seconds(2);
  const v1::App created = cluster.CreateApp(delayed);
  EXPECT_EQ(created.delivery_delay().seconds(), 2);

  auto publish = [&](const std::string& tenant, bool after_3s) {
    v1::PublishRequest request;
    request.set_tenant(tenant);
    request.set_event_type("video.ready");
    request.set_payload(R"({"delayed":true})");
    if (after_3s) request.mutable_deliver_after()->set_seconds(3);
    std::string id = cluster.PublishRouted(request);
    return std::make_pair(id, absl::Now());
  };
  const auto [event, published] = publish("delay", /*after_3s=*/true);
  const auto [app_event, app_published] = publish("app-delay", /*after_3s=*/false);

  // SCHEDULED, with its due time, until then.
  v1::ListDeliveriesRequest list;
  list.set_tenant("delay");
  v1::ListDeliveriesResponse listed;
  ASSERT_TRUE(log->ListDeliveries(ClientContext(token).get(), list, &listed).ok());
  ASSERT_EQ(listed.deliveries_size(), 1);
  v1::GetDeliveryRequest get;
  get.set_id(listed.deliveries(0).id());
  v1::Delivery scheduled;
  ASSERT_TRUE(log->GetDelivery(ClientContext(token).get(), get, &scheduled).ok());
  EXPECT_EQ(scheduled.status(), v1::SCHEDULED);
  const absl::Time due = ToAbslTime(scheduled.next_attempt_time());
  EXPECT_GE(due, published - absl::Seconds(1) + absl::Seconds(3));
  EXPECT_LE(due, published + absl::Seconds(3));

  // Redis forgets everything in between: the schedule is in Postgres.
  redis.Stop();
  ASSERT_TRUE(redis.Start().ok());

  ASSERT_TRUE(receiver.WaitFor("/per-event", 1, absl::Seconds(10)));
  ASSERT_TRUE(receiver.WaitFor("/per-app", 1, absl::Seconds(10)));
  const Receiver::Request per_event = receiver.Received("/per-event")[0];
  const Receiver::Request per_app = receiver.Received("/per-app")[0];
  EXPECT_EQ(per_event.headers.at("webhook-id"), event);
  EXPECT_EQ(per_app.headers.at("webhook-id"), app_event);
  // No earlier than asked, and within a second after.
  EXPECT_GE(per_event.at, published + absl::Seconds(3) - absl::Milliseconds(100));
  EXPECT_GE(per_event.at, due);
  EXPECT_LE(per_event.at, due + absl::Seconds(1));
  EXPECT_GE(per_app.at, app_published + absl::Seconds(2) - absl::Milliseconds(100));
  EXPECT_LE(per_app.at, app_published + absl::Seconds(3));

  // Bad schedules are named and change nothing.
  v1::PublishRequest bad;
  bad.set_tenant("delay");
  bad.set_event_type("video.ready");
  bad.set_payload("{}");
  bad.mutable_deliver_after()->set_seconds(8 * 24 * 3600);
  v1::PublishResponse out;
  grpc::Status status = ingest->Publish(ClientContext(token).get(), bad, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().substr(0, status.error_message().find(':')), "deliver_after");
  bad.clear_deliver_after();
  bad.mutable_deliver_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(1999, 12, 31, 23, 59, 59), absl::UTCTimeZone())));
  status = ingest->Publish(ClientContext(token).get(), bad, &out);
  EXPECT_EQ(status.error_message().substr(0, status.error_message().find(':')), "deliver_at");
  ASSERT_TRUE(log->ListDeliveries(ClientContext(token).get(), list, &listed).ok());
  EXPECT_EQ(listed.deliveries_size(), 1);
}

}  // namespace
}  // namespace hookd::e2e
