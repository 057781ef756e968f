// Metrics end to end: real hookd-subscription, hookd-ingest and hookd-worker processes each serve
// /metrics; after a known set of publishes and deliveries, every counter has moved by exactly
// what happened.

#include <map>
#include <string>

#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/testing/metrics_text.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::MetricsScrape;
using testing::PollUntil;
using testing::Receiver;
using Labels = std::map<std::string, std::string>;

MetricsScrape Scrape(int port) {
  auto scrape = testing::ScrapeMetrics(port);
  EXPECT_TRUE(scrape.ok()) << scrape.status();
  return scrape.ok() ? *scrape : MetricsScrape{};
}

// A sample's value, 0 when the series does not exist (yet).
double Value(const MetricsScrape& scrape, const std::string& name, const Labels& labels = {}) {
  return scrape.Get(name, labels).value_or(0);
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bed = TestBed::Create("metrics_e2e");
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = std::move(*bed);
    cluster_ = bed_->cluster.get();
    ASSERT_TRUE(cluster_->StartAll({"video.ready", "render.failed"}).ok());
    apps_ = v1::AppService::NewStub(cluster_->subscription_channel());
    ingest_ = v1::IngestService::NewStub(cluster_->ingest_channel());
  }

  const std::string& token() const { return cluster_->admin_token(); }

  v1::App CreateApp(const std::string& path, const std::string& event_type,
                    const std::function<void(v1::App&)>& customize = nullptr) {
    v1::App app;
    app.set_tenant("obs");
    app.set_name("metrics " + path);
    app.set_url(receiver_.url(path));
    app.add_event_types(event_type);
    if (customize) customize(app);
    return cluster_->CreateApp(app);
  }

  v1::PublishRequest Event(const std::string& type, const std::string& key = "") {
    v1::PublishRequest request;
    request.set_tenant("obs");
    request.set_event_type(type);
    request.set_payload(R"({"video_id":"v_1"})");
    request.set_idempotency_key(key);
    return request;
  }

  v1::PublishResponse Publish(const v1::PublishRequest& request, const std::string& token) {
    v1::PublishResponse response;
    grpc::Status status = ingest_->Publish(ClientContext(token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(bed_->db->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  Receiver receiver_;
  std::unique_ptr<TestBed> bed_;
  Cluster* cluster_ = nullptr;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
};

TEST_F(MetricsTest, CountersMoveByExactlyWhatHappened) {
  const int sub_port = cluster_->subscription_metrics_port();
  const int ingest_port = cluster_->ingest_metrics_port();
  const int worker_port = cluster_->worker_metrics_port("w1");
  // A service answers gRPC before its app cache has synced (the gauge reads +Inf until then):
  // the baseline is taken once both caches are synced and both watches are open.
  ASSERT_TRUE(PollUntil([&] {
    return Value(Scrape(ingest_port), "hookd_app_cache_sync_age_seconds") == 0 &&
           Value(Scrape(worker_port), "hookd_app_cache_sync_age_seconds") == 0 &&
           Value(Scrape(sub_port), "hookd_subscription_watchers") == 2;
  }));
  const MetricsScrape sub0 = Scrape(sub_port);
  const MetricsScrape ingest0 = Scrape(ingest_port);
  const MetricsScrape worker0 = Scrape(worker_port);
  // Every metric is announced from the start, before anything happened.
  for (const char* name :
       {"hookd_ingest_events_total", "hookd_ingest_deliveries_total",
        "hookd_ingest_commit_batch_events", "hookd_ingest_outbox_swept_deliveries_total",
        "hookd_app_cache_sync_age_seconds", "hookd_app_cache_apps", "hookd_grpc_requests_total",
        "process_resident_memory_bytes", "process_start_time_seconds"}) {
    EXPECT_EQ(ingest0.types.count(name), 1u) << name;
  }
  for (const char* name :
       {"hookd_worker_attempts_total", "hookd_worker_app_attempts_total",
        "hookd_worker_attempt_duration_seconds", "hookd_worker_delivery_lag_seconds",
        "hookd_worker_apps_disabled_total", "hookd_worker_rate_limited_total",
        "hookd_worker_in_flight_requests", "hookd_queue_stream_entries",
        "hookd_queue_pending_entries", "hookd_queue_retry_scheduled",
        "hookd_app_cache_sync_age_seconds", "hookd_app_cache_apps"}) {
    EXPECT_EQ(worker0.types.count(name), 1u) << name;
  }
  for (const char* name : {"hookd_subscription_apps", "hookd_subscription_apps_disabled",
                           "hookd_subscription_watchers", "hookd_grpc_requests_total",
                           "hookd_grpc_request_duration_seconds"}) {
    EXPECT_EQ(sub0.types.count(name), 1u) << name;
  }
  // Both caches are synced and connected: ingest's and the worker's watches are open.
  EXPECT_EQ(Value(ingest0, "hookd_app_cache_sync_age_seconds"), 0);
  EXPECT_EQ(Value(worker0, "hookd_app_cache_sync_age_seconds"), 0);
  EXPECT_EQ(Value(sub0, "hookd_subscription_watchers"), 2);

  // Two endpoints that accept, one that always fails (two attempts: retrying, then failed) and
  // one that answers 410 Gone (the worker disables it). The last gets render.failed only, so it
  // is attempted exactly once.
  receiver_.Handle("/fail", Receiver::Answer(500));
  receiver_.Handle("/gone", Receiver::Answer(410));
  v1::App ok1 = CreateApp("/ok1", "video.ready");
  v1::App ok2 = CreateApp("/ok2", "video.ready");
  v1::App fail = CreateApp("/fail", "video.ready", [](v1::App& a) {
    a.mutable_retry()->add_delays()->set_seconds(1);  // x0.001 in these workers
  });
  v1::App gone = CreateApp("/gone", "render.failed");
  // An error the subscription counts by code.
  v1::GetAppRequest missing;
  missing.set_id("app_missing");
  v1::App out;
  EXPECT_EQ(apps_->GetApp(ClientContext(token()).get(), missing, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Routing and delivery read apps from their caches: wait until both know all four.
  ASSERT_TRUE(PollUntil(
      [&] {
        return Value(Scrape(ingest_port), "hookd_app_cache_apps") == 4 &&
               Value(Scrape(worker_port), "hookd_app_cache_apps") == 4;
      },
      absl::Seconds(20)));

  // Events: 4 + 1 duplicate by key through Publish, a batch of one valid and one invalid event,
  // one render.failed, and one publish with a wrong token.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Publish(Event("video.ready", i == 0 ? "key-1" : ""), token()).delivery_count(), 3);
  }
  EXPECT_TRUE(Publish(Event("video.ready", "key-1"), token()).duplicate());
  v1::PublishBatchRequest batch;
  *batch.add_events() = Event("video.ready");
  *batch.add_events() = Event("video.ready");
  batch.mutable_events(1)->set_payload("not json");
  v1::PublishBatchResponse batch_out;
  ASSERT_TRUE(ingest_->PublishBatch(ClientContext(token()).get(), batch, &batch_out).ok());
  EXPECT_EQ(batch_out.results(0).delivery_count(), 3);
  EXPECT_EQ(batch_out.errors(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Publish(Event("render.failed"), token()).delivery_count(), 1);
  v1::PublishResponse refused;
  EXPECT_EQ(ingest_->Publish(ClientContext("wrong-token").get(), Event("video.ready"), &refused)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // 5 video.ready events x 3 apps + 1 render.failed = 16 deliveries; wait until all are final.
  ASSERT_TRUE(PollUntil(
      [&] { return Scalar("SELECT count(*) FROM delivery_view WHERE status IN (2, 4)") == 16; },
      absl::Seconds(30)))
      << cluster_->worker("w1").LogTail();
  EXPECT_EQ(Scalar("SELECT count(*) FROM delivery_view"), 16);

  // The queue drains to nothing; the gauges are sampled at most once a second.
  MetricsScrape worker1;
  ASSERT_TRUE(PollUntil(
      [&] {
        worker1 = Scrape(worker_port);
        return Value(worker1, "hookd_queue_stream_entries") == 0 &&
               Value(worker1, "hookd_queue_pending_entries") == 0 &&
               Value(worker1, "hookd_queue_retry_scheduled") == 0;
      },
      absl::Seconds(10)));
  MetricsScrape sub1;
  ASSERT_TRUE(PollUntil(
      [&] {
        sub1 = Scrape(sub_port);
        return Value(sub1, "hookd_subscription_apps_disabled") == 1;
      },
      absl::Seconds(10)));
  const MetricsScrape ingest1 = Scrape(ingest_port);
  auto delta = [](const MetricsScrape& before, const MetricsScrape& after, const std::string& name,
                  const Labels& labels = {}) {
    return Value(after, name, labels) - Value(before, name, labels);
  };

  // hookd-ingest: every event by result, the deliveries they created, one transaction each.
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_events_total", {{"result", "ok"}}), 6);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_events_total", {{"result", "duplicate"}}), 1);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_events_total", {{"result", "invalid_argument"}}),
            1);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_events_total", {{"result", "unauthenticated"}}),
            1);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_deliveries_total"), 16);
  // Sequential calls: 7 events (the duplicate included) in 7 transactions.
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_commit_batch_events_sum"), 7);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_commit_batch_events_count"), 7);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_commit_batch_events_bucket", {{"le", "1"}}), 7);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_ingest_outbox_swept_deliveries_total"), 0);
  const std::string publish = "hookd.v1.IngestService/Publish";
  EXPECT_EQ(
      delta(ingest0, ingest1, "hookd_grpc_requests_total", {{"method", publish}, {"code", "OK"}}),
      6);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_grpc_requests_total",
                  {{"method", publish}, {"code", "UNAUTHENTICATED"}}),
            1);
  EXPECT_EQ(delta(ingest0, ingest1, "hookd_grpc_requests_total",
                  {{"method", "hookd.v1.IngestService/PublishBatch"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(
      delta(ingest0, ingest1, "hookd_grpc_request_duration_seconds_count", {{"method", publish}}),
      7);
  EXPECT_EQ(Value(ingest1, "hookd_app_cache_apps"), 4);

  // hookd-worker: 10 successes, 5 retries and 5 failures of the failing app, 1 gone.
  const std::string attempts = "hookd_worker_attempts_total";
  EXPECT_EQ(delta(worker0, worker1, attempts, {{"outcome", "succeeded"}}), 10);
  EXPECT_EQ(delta(worker0, worker1, attempts, {{"outcome", "retrying"}}), 5);
  EXPECT_EQ(delta(worker0, worker1, attempts, {{"outcome", "failed"}}), 5);
  EXPECT_EQ(delta(worker0, worker1, attempts, {{"outcome", "gone"}}), 1);
  const std::string per_app = "hookd_worker_app_attempts_total";
  EXPECT_EQ(Value(worker1, per_app, {{"app_id", ok1.id()}, {"outcome", "succeeded"}}), 5);
  EXPECT_EQ(Value(worker1, per_app, {{"app_id", ok2.id()}, {"outcome", "succeeded"}}), 5);
  EXPECT_EQ(Value(worker1, per_app, {{"app_id", fail.id()}, {"outcome", "retrying"}}), 5);
  EXPECT_EQ(Value(worker1, per_app, {{"app_id", fail.id()}, {"outcome", "failed"}}), 5);
  EXPECT_EQ(Value(worker1, per_app, {{"app_id", gone.id()}, {"outcome", "gone"}}), 1);
  EXPECT_EQ(worker1.Find(per_app).size(), 5u);
  // Both histograms observe every attempt; the attempts table agrees.
  EXPECT_EQ(delta(worker0, worker1, "hookd_worker_attempt_duration_seconds_count"), 21);
  EXPECT_EQ(delta(worker0, worker1, "hookd_worker_delivery_lag_seconds_count"), 21);
  EXPECT_EQ(Value(worker1, "hookd_worker_attempt_duration_seconds_bucket", {{"le", "+Inf"}}),
            Value(worker1, "hookd_worker_attempt_duration_seconds_count"));
  EXPECT_GT(Value(worker1, "hookd_worker_attempt_duration_seconds_sum"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts"), 21);
  EXPECT_EQ(delta(worker0, worker1, "hookd_worker_apps_disabled_total"), 1);
  EXPECT_EQ(delta(worker0, worker1, "hookd_worker_rate_limited_total"), 0);
  EXPECT_EQ(Value(worker1, "hookd_worker_in_flight_requests"), 0);
  EXPECT_EQ(Value(worker1, "hookd_app_cache_apps"), 4);
  EXPECT_EQ(Value(worker1, "hookd_app_cache_sync_age_seconds"), 0);

  // hookd-subscription: its calls by method and code, and the apps.
  EXPECT_EQ(delta(sub0, sub1, "hookd_grpc_requests_total",
                  {{"method", "hookd.v1.AppService/CreateApp"}, {"code", "OK"}}),
            4);
  EXPECT_EQ(delta(sub0, sub1, "hookd_grpc_requests_total",
                  {{"method", "hookd.v1.AppService/GetApp"}, {"code", "NOT_FOUND"}}),
            1);
  // The worker disabled the gone app through the API.
  EXPECT_EQ(delta(sub0, sub1, "hookd_grpc_requests_total",
                  {{"method", "hookd.v1.AppService/DisableApp"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(Value(sub1, "hookd_subscription_apps"), 4);
  EXPECT_EQ(Value(sub1, "hookd_subscription_apps_disabled"), 1);
  EXPECT_EQ(Value(sub1, "hookd_subscription_watchers"), 2);
}

TEST_F(MetricsTest, PerAppSeriesAreCappedAtOneHundredApps) {
  const int worker_port = cluster_->worker_metrics_port("w1");
  // 105 apps of one tenant, each getting one delivery of one event.
  std::vector<std::string> ids;
  for (int i = 0; i < 105; ++i) ids.push_back(CreateApp("/cap", "video.ready").id());
  ASSERT_TRUE(PollUntil(
      [&] {
        return Value(Scrape(cluster_->ingest_metrics_port()), "hookd_app_cache_apps") == 105 &&
               Value(Scrape(worker_port), "hookd_app_cache_apps") == 105;
      },
      absl::Seconds(30)));
  EXPECT_EQ(Publish(Event("video.ready"), token()).delivery_count(), 105);
  ASSERT_TRUE(receiver_.WaitFor("/cap", 105, absl::Seconds(30)));
  MetricsScrape scrape;
  ASSERT_TRUE(PollUntil(
      [&] {
        scrape = Scrape(worker_port);
        return Value(scrape, "hookd_worker_attempts_total", {{"outcome", "succeeded"}}) == 105;
      },
      absl::Seconds(30)));
  auto series = scrape.Find("hookd_worker_app_attempts_total");
  ASSERT_EQ(series.size(), 101u);
  int other = 0;
  for (const auto& s : series) {
    EXPECT_EQ(s.labels.at("outcome"), "succeeded");
    if (s.labels.at("app_id") == "other") {
      other = static_cast<int>(s.value);
    } else {
      EXPECT_EQ(s.value, 1) << s.labels.at("app_id");
    }
  }
  EXPECT_EQ(other, 5);
  EXPECT_EQ(scrape.Sum("hookd_worker_app_attempts_total"), 105);
}

}  // namespace
}  // namespace hookd::e2e
