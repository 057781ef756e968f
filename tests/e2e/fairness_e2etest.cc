// Fair delivery (README, "Fair delivery"): one tenant's slow endpoint holds its own share of a
// worker and no more. Real hookd processes, Postgres, Redis and two HTTP receivers.

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/testing/metrics_text.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

constexpr int kSlowBacklog = 1200;
constexpr absl::Duration kSlowAnswer = absl::Seconds(10);
constexpr int kQuietPerSecond = 20;
constexpr absl::Duration kQuietWindow = absl::Seconds(15);

v1::App AppFor(const std::string& tenant, const std::string& url, absl::Duration timeout) {
  v1::App app;
  app.set_tenant(tenant);
  app.set_name(tenant + " endpoint");
  app.set_url(url);
  app.add_event_types("*");
  app.mutable_timeout()->set_seconds(absl::ToInt64Seconds(timeout));
  return app;
}

v1::PublishRequest Event(const std::string& tenant, const std::string& payload) {
  v1::PublishRequest event;
  event.set_tenant(tenant);
  event.set_event_type("render.completed");
  event.set_payload(payload);
  return event;
}

// The slow-tenant case of issue #19: an app with 1,200 pending deliveries to an endpoint that
// answers after 10 s, beside another tenant publishing 20 events/s. The other tenant's
// deliveries keep arriving within 100 ms (p99), and no slow delivery is attempted twice: its
// requests wait in the worker, where no timeout runs, rather than timing out in a queue.
TEST(FairnessTest, ASlowTenantsBacklogDoesNotDelayAnotherTenant) {
  auto bed = TestBed::Create("fairness_e2e");
  ASSERT_TRUE(bed.ok()) << bed.status();
  Cluster& cluster = *(*bed)->cluster;
  ASSERT_TRUE(cluster.StartSubscription().ok());
  ASSERT_TRUE(cluster.CreateEventTypes({"render.completed"}).ok());
  ASSERT_TRUE(cluster.StartIngest().ok());
  // The defaults of hookd-worker: 256 requests in flight, 64 per app and per host, a 10 s
  // visibility timeout, app timeouts up to 30 s.
  ASSERT_TRUE(cluster
                  .StartWorker("w", {"--max_in_flight=256", "--max_request_timeout=30s",
                                     "--visibility_timeout=10s", "--lost_grace=5m"})
                  .ok());
  Receiver slow;
  slow.Handle("/slow", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = kSlowAnswer;
    return response;
  });
  Receiver quiet;
  // 12 s: inside the timeout, so the slow app is never disabled, and a request that waited in a
  // queue with its timeout running would be cut (and sent again).
  const v1::App slow_app = cluster.CreateApp(AppFor("slow", slow.url("/slow"), absl::Seconds(12)));
  const v1::App quiet_app =
      cluster.CreateApp(AppFor("quiet", quiet.url("/quiet"), absl::Seconds(5)));
  ASSERT_FALSE(slow_app.id().empty());
  ASSERT_FALSE(quiet_app.id().empty());
  auto ingest = v1::IngestService::NewStub(cluster.ingest_channel());

  ASSERT_FALSE(cluster.PublishRouted(Event("slow", R"({"n":0})")).empty());
  for (int sent = 1; sent < kSlowBacklog;) {
    v1::PublishBatchRequest batch;
    for (; sent < kSlowBacklog && batch.events_size() < 100; ++sent) {
      *batch.add_events() = Event("slow", R"({"n":)" + std::to_string(sent) + "}");
    }
    v1::PublishBatchResponse response;
    grpc::Status status =
        ingest->PublishBatch(ClientContext(cluster.admin_token()).get(), batch, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(slow.WaitFor("/slow", 64));
  const absl::Time backlog_published = absl::Now();
  ASSERT_FALSE(cluster.PublishRouted(Event("quiet", R"({"probe":true})")).empty());
  ASSERT_TRUE(quiet.WaitFor("/quiet", 1));

  // 20 events/s, each carrying the moment it was published.
  const int quiet_events = kQuietPerSecond * static_cast<int>(absl::ToInt64Seconds(kQuietWindow));
  const absl::Time start = absl::Now();
  double most_in_flight = 0, most_queued = 0;
  for (int i = 0; i < quiet_events; ++i) {
    absl::SleepFor(start + i * absl::Seconds(1) / kQuietPerSecond - absl::Now());  // the pace
    v1::PublishResponse response;
    grpc::Status status = ingest->Publish(
        ClientContext(cluster.admin_token()).get(),
        Event("quiet", R"({"sent_us":)" + std::to_string(absl::ToUnixMicros(absl::Now())) + "}"),
        &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (i % kQuietPerSecond == 0) {
      auto scrape = testing::ScrapeMetrics(cluster.worker_metrics_port("w"));
      ASSERT_TRUE(scrape.ok()) << scrape.status();
      most_in_flight =
          std::max(most_in_flight,
                   scrape->Get("hookd_worker_app_in_flight_requests", {{"app_id", slow_app.id()}})
                       .value_or(0));
      most_queued =
          std::max(most_queued,
                   scrape->Get("hookd_worker_app_queued_deliveries", {{"app_id", slow_app.id()}})
                       .value_or(0));
    }
  }
  ASSERT_TRUE(quiet.WaitFor("/quiet", quiet_events + 1));

  std::vector<absl::Duration> lags;
  for (const Receiver::Request& r : quiet.Received("/quiet")) {
    // The payload sits in the Standard Webhooks envelope's "data".
    const std::string key = R"("sent_us":)";
    const size_t at = r.body.find(key);
    if (at == std::string::npos) continue;  // the probe
    const size_t digits = at + key.size();
    int64_t sent_us = 0;
    ASSERT_TRUE(absl::SimpleAtoi(
        r.body.substr(digits, r.body.find_first_not_of("0123456789", digits) - digits), &sent_us))
        << r.body;
    lags.push_back(r.at - absl::FromUnixMicros(sent_us));
  }
  ASSERT_EQ(lags.size(), static_cast<size_t>(quiet_events));
  std::sort(lags.begin(), lags.end());
  const absl::Duration p50 = lags[lags.size() / 2];
  const absl::Duration p99 = lags[lags.size() * 99 / 100];
  std::cerr << "quiet tenant beside a 1,200-delivery backlog: p50 " << p50 << ", p99 " << p99
            << ", max " << lags.back() << "; slow app at most " << most_in_flight << " in flight, "
            << most_queued << " queued\n";
  EXPECT_LT(p99, absl::Milliseconds(100));

  // The slow app held its share (64 = --max_in_flight_per_app), the rest waited in the worker.
  EXPECT_EQ(most_in_flight, 64);
  EXPECT_GT(most_queued, 0);
  // More than the 12 s timeout has passed since its first requests: the second wave started as
  // the first ended, and no request was cut or sent twice.
  ASSERT_GT(absl::Now() - backlog_published, absl::Seconds(12));
  ASSERT_TRUE(slow.WaitFor("/slow", 128));
  std::map<std::string, int> copies;
  for (const Receiver::Request& r : slow.Received("/slow")) ++copies[r.headers.at("webhook-id")];
  for (const auto& [id, n] : copies) EXPECT_EQ(n, 1) << id;
  pqxx::connection conn((*bed)->db->url());
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec_params1("SELECT count(*) FROM attempts WHERE app_id = $1 AND error <> 1",
                             slow_app.id())[0]
                .as<int64_t>(),
            0);
}

}  // namespace
}  // namespace hookd::e2e
