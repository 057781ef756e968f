// Several hookd-workers at once, crashes and a Redis that forgets: real processes, real
// Postgres, Redis and HTTP receiver.

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/testing/process.h"
#include "hookd/testing/receiver.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/test_redis.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/event_type.grpc.pb.h"
#include "hookd/v1/ingest.grpc.pb.h"
#include "pqxx/pqxx"

namespace hookd::e2e {
namespace {

using testing::ClientContext;
using testing::PollUntil;
using testing::Receiver;

// A cluster of its own per test: these tests start, kill and restart workers and Redis.
class WorkerFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create("worker_fault");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto redis = testing::TestRedisOptions("worker_fault");
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *redis;
  }

  void StartCluster(const std::string& redis_url) {
    cluster_ =
        std::make_unique<Cluster>(db_->url(), redis_url, redis_.key_prefix, redis_.partitions);
    ASSERT_TRUE(cluster_->StartSubscription().ok());
    auto types = v1::EventTypeService::NewStub(cluster_->subscription_channel());
    v1::CreateEventTypeRequest request;
    request.mutable_event_type()->set_name("render.completed");
    v1::EventType out;
    ASSERT_TRUE(
        types->CreateEventType(ClientContext(cluster_->admin_token()).get(), request, &out).ok());
    ASSERT_TRUE(cluster_->StartIngest().ok());
    apps_ = v1::AppService::NewStub(cluster_->subscription_channel());
    ingest_ = v1::IngestService::NewStub(cluster_->ingest_channel());
  }

  void TearDown() override {
    cluster_.reset();
    (void)testing::DeleteKeys(redis_);
  }

  v1::App CreateApp(const std::string& path, int rate_limit = 0,
                    absl::Duration timeout = absl::Seconds(10),
                    const std::vector<int>& retry_delay_seconds = {}) {
    v1::CreateAppRequest request;
    v1::App* app = request.mutable_app();
    app->set_tenant("fault");
    app->set_name("fault " + path);
    app->set_url(receiver_.url(path));
    app->add_event_types("*");
    app->set_rate_limit_per_second(rate_limit);
    app->mutable_timeout()->set_seconds(absl::ToInt64Seconds(timeout));
    for (int delay : retry_delay_seconds) app->mutable_retry()->add_delays()->set_seconds(delay);
    request.set_skip_connection_test(true);
    v1::App out;
    grpc::Status status =
        apps_->CreateApp(ClientContext(cluster_->admin_token()).get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  // Publishes `count` events in batches once ingest routes to the app; returns the event ids.
  std::vector<std::string> PublishMany(int count) {
    std::vector<std::string> ids;
    // The first event doubles as the probe: ingest routes from its cache, which learns of the
    // new app within milliseconds.
    EXPECT_TRUE(PollUntil([&] {
      v1::PublishRequest probe;
      probe.set_tenant("fault");
      probe.set_event_type("render.completed");
      probe.set_payload(R"({"render":0})");
      v1::PublishResponse response;
      if (!ingest_->Publish(ClientContext(cluster_->admin_token()).get(), probe, &response).ok() ||
          response.delivery_count() != 1) {
        return false;
      }
      ids.push_back(response.event_id());
      return true;
    }));
    while (static_cast<int>(ids.size()) < count) {
      v1::PublishBatchRequest batch;
      for (int i = 0; i < 100 && static_cast<int>(ids.size()) + i < count; ++i) {
        v1::PublishRequest* e = batch.add_events();
        e->set_tenant("fault");
        e->set_event_type("render.completed");
        e->set_payload(R"({"render":)" + std::to_string(ids.size() + i) + "}");
      }
      v1::PublishBatchResponse response;
      grpc::Status status =
          ingest_->PublishBatch(ClientContext(cluster_->admin_token()).get(), batch, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      for (const auto& r : response.results()) {
        EXPECT_EQ(r.delivery_count(), 1);
        ids.push_back(r.event_id());
      }
    }
    return ids;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    return txn.exec1(sql)[0].as<int64_t>();
  }

  bool AllSucceeded(int count, absl::Duration timeout) {
    return PollUntil(
        [&] { return Scalar("SELECT count(*) FROM delivery_view WHERE status = 2") == count; },
        timeout, absl::Milliseconds(100));
  }

  std::unique_ptr<testing::TestDatabase> db_;
  RedisOptions redis_;
  std::unique_ptr<Cluster> cluster_;
  Receiver receiver_;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
};

TEST_F(WorkerFaultTest, TwoWorkersSplitTheLoadAndAttemptNothingTwice) {
  StartCluster(redis_.url);
  // Timeouts far above what a loaded 2-core machine needs: an attempt that times out is
  // retried, legitimately, and this test is about duplicates without any failure.
  const std::vector<std::string> patient = {"--max_request_timeout=20s",
                                            "--visibility_timeout=40s"};
  ASSERT_TRUE(cluster_->StartWorker("a", patient).ok());
  ASSERT_TRUE(cluster_->StartWorker("b", patient).ok());
  CreateApp("/split", 0, absl::Seconds(20));
  std::vector<std::string> events = PublishMany(400);
  ASSERT_TRUE(AllSucceeded(400, absl::Seconds(60)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts"), 400);
  EXPECT_EQ(Scalar("SELECT count(DISTINCT delivery_id) FROM attempts"), 400);
  // Both took a share.
  EXPECT_GT(Scalar("SELECT count(*) FROM attempts WHERE worker = 'a'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM attempts WHERE worker = 'b'"), 0);
  std::set<std::string> ids;
  for (const auto& r : receiver_.Received("/split")) ids.insert(r.headers.at("webhook-id"));
  EXPECT_EQ(ids, std::set<std::string>(events.begin(), events.end()));
  EXPECT_EQ(receiver_.Received("/split").size(), 400u);
}

TEST_F(WorkerFaultTest, TheRateLimitHoldsAcrossTwoWorkers) {
  StartCluster(redis_.url);
  ASSERT_TRUE(cluster_->StartWorker("a").ok());
  ASSERT_TRUE(cluster_->StartWorker("b").ok());
  constexpr int kRate = 10;
  CreateApp("/limited", kRate);
  PublishMany(40);
  ASSERT_TRUE(AllSucceeded(40, absl::Seconds(60)));
  auto received = receiver_.Received("/limited");
  // Each event once; under load an attempt that timed out is made again (at-least-once), and
  // that retry takes a token like any request.
  std::set<std::string> webhook_ids;
  for (const auto& r : received) webhook_ids.insert(r.headers.at("webhook-id"));
  ASSERT_EQ(webhook_ids.size(), 40u);
  // A bucket of kRate tokens refilled at kRate/s: any window of one second holds at most the
  // burst plus one second's refill.
  std::vector<absl::Time> times;
  for (const auto& r : received) times.push_back(r.at);
  std::sort(times.begin(), times.end());
  for (size_t i = 0; i < times.size(); ++i) {
    size_t j = i;
    while (j < times.size() && times[j] - times[i] < absl::Seconds(1)) ++j;
    EXPECT_LE(static_cast<int>(j - i), 2 * kRate + 1) << "window starting at request " << i;
  }
  // 40 requests at 10/s after a burst of 10 take at least (40 - 10) / 10 = 3 s.
  EXPECT_GE(times.back() - times.front(), absl::Milliseconds(2700));
}

TEST_F(WorkerFaultTest, AWorkerKilledWithRequestsInFlightLosesNothing) {
  StartCluster(redis_.url);
  // Slow answers keep many requests in flight in the worker that is about to die.
  receiver_.Handle("/slow", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = absl::Milliseconds(300);
    return response;
  });
  ASSERT_TRUE(cluster_->StartWorker("victim").ok());
  CreateApp("/slow");
  std::vector<std::string> events = PublishMany(200);
  ASSERT_TRUE(receiver_.WaitFor("/slow", 20));
  cluster_->worker("victim").Signal(SIGKILL);
  ASSERT_NE(cluster_->worker("victim").Wait(), -1);
  ASSERT_TRUE(cluster_->StartWorker("survivor").ok());
  // The survivor claims what the victim held once the visibility timeout passed.
  ASSERT_TRUE(AllSucceeded(200, absl::Seconds(90)));
  std::map<std::string, std::set<std::string>> bodies;  // webhook-id -> bodies seen
  for (const auto& r : receiver_.Received("/slow"))
    bodies[r.headers.at("webhook-id")].insert(r.body);
  EXPECT_EQ(bodies.size(), 200u);
  for (const auto& [id, seen] : bodies) {
    // Duplicates are allowed; each carries the same webhook-id and the same event.
    EXPECT_EQ(seen.size(), 1u) << id;
  }
  EXPECT_GT(Scalar("SELECT count(*) FROM attempts WHERE worker = 'survivor'"), 0);
}

// The production timing of recovery: a 10 s visibility timeout, and no lost-delivery sweep
// (5 minutes) within any of these tests, whatever the apps' timeouts (up to 30 s).
const std::vector<std::string> kDefaultTiming = {"--max_request_timeout=30s",
                                                 "--visibility_timeout=10s", "--lost_grace=5m"};

TEST_F(WorkerFaultTest, AKilledWorkersDeliveriesAreRetakenWithinFifteenSeconds) {
  StartCluster(redis_.url);
  // Requests hang (up to the app's 30 s timeout) until the worker holding them is dead.
  std::atomic<bool> hang{true};
  receiver_.Handle("/hang", [&](const Receiver::Request&) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (hang.load() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
    return Receiver::Response{};
  });
  ASSERT_TRUE(cluster_->StartWorker("victim", kDefaultTiming).ok());
  CreateApp("/hang", 0, absl::Seconds(30));
  std::vector<std::string> events = PublishMany(20);
  ASSERT_TRUE(receiver_.WaitFor("/hang", 20));
  cluster_->worker("victim").Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  ASSERT_NE(cluster_->worker("victim").Wait(), -1);
  hang = false;
  ASSERT_TRUE(cluster_->StartWorker("survivor", kDefaultTiming).ok());
  ASSERT_TRUE(AllSucceeded(20, absl::Seconds(30)));
  // Each delivery was sent again by the survivor, within 15 s of the kill.
  std::vector<Receiver::Request> received = receiver_.Received("/hang");
  ASSERT_EQ(received.size(), 40u);
  std::set<std::string> again;
  absl::Time last = killed;
  for (size_t i = 20; i < received.size(); ++i) {
    again.insert(received[i].headers.at("webhook-id"));
    last = std::max(last, received[i].at);
  }
  EXPECT_EQ(again, std::set<std::string>(events.begin(), events.end()));
  EXPECT_LT(last - killed, absl::Seconds(15)) << "retaken after " << (last - killed);
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts WHERE worker = 'survivor'"), 20);
  std::cerr << "retaken " << (last - killed) << " after the kill\n";
}

// Live workers keep what they hold claimed: requests three times longer than the visibility
// timeout and as long as --lost_grace, two workers, and no delivery is taken over, queued again
// or attempted twice.
TEST_F(WorkerFaultTest, RequestsLongerThanTheVisibilityTimeoutAreNeverTakenOver) {
  StartCluster(redis_.url);
  receiver_.Handle("/long", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = absl::Seconds(3);
    return response;
  });
  // The lost-delivery sweep runs with its test setting (3 s, the length of a request): held
  // deliveries are marked in progress, so it queues no copy of them either.
  const std::vector<std::string> timing = {"--max_request_timeout=10s", "--visibility_timeout=1s"};
  ASSERT_TRUE(cluster_->StartWorker("a", timing).ok());
  ASSERT_TRUE(cluster_->StartWorker("b", timing).ok());
  CreateApp("/long", 0, absl::Seconds(10));
  std::vector<std::string> events = PublishMany(30);
  ASSERT_TRUE(AllSucceeded(30, absl::Seconds(40)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM attempts"), 30);
  EXPECT_EQ(receiver_.Received("/long").size(), 30u);
}

TEST_F(WorkerFaultTest, RedisRestartedEmptyLosesNoDelivery) {
  testing::ScratchRedis redis;  // not persistent: it comes back empty
  ASSERT_TRUE(redis.Start().ok());
  StartCluster(redis.url());
  CreateApp("/amnesia");
  // No worker yet: the deliveries wait on the streams, which Redis is about to forget.
  std::vector<std::string> events = PublishMany(50);
  ASSERT_TRUE(PollUntil([&] { return Scalar("SELECT count(*) FROM outbox") == 0; }));
  redis.Stop();
  ASSERT_TRUE(redis.Start().ok());
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(cluster_->StartWorker("w", kDefaultTiming).ok());
  // The worker finds Redis's generation marker gone and queues again, from Postgres, what
  // Redis forgot: within 30 s, not after the 5-minute lost-delivery sweep.
  ASSERT_TRUE(AllSucceeded(50, absl::Seconds(30)));
  std::cerr << "all delivered " << (absl::Now() - restarted) << " after the restart\n";
  std::set<std::string> ids;
  for (const auto& r : receiver_.Received("/amnesia")) ids.insert(r.headers.at("webhook-id"));
  EXPECT_EQ(ids, std::set<std::string>(events.begin(), events.end()));
}

// FLUSHALL under a running worker: deliveries on the streams, waiting in the worker behind their
// app's share, and scheduled for a retry all arrive within 30 s.
TEST_F(WorkerFaultTest, RedisFlushedUnderARunningWorkerLosesNothingAndFlowsWithinThirtySeconds) {
  testing::ScratchRedis redis;
  ASSERT_TRUE(redis.Start().ok());
  StartCluster(redis.url());
  receiver_.Handle("/busy", [](const Receiver::Request&) {
    Receiver::Response response;
    response.delay = absl::Milliseconds(100);
    return response;
  });
  // The first attempt of each fails; the retry is due 5 s later, in Redis's retry set.
  std::mutex mu;
  std::set<std::string> failed_once;
  receiver_.Handle("/flaky", [&](const Receiver::Request& request) {
    std::lock_guard<std::mutex> lock(mu);
    Receiver::Response response;
    if (failed_once.insert(request.headers.at("webhook-id")).second) response.status = 500;
    return response;
  });
  std::vector<std::string> timing = kDefaultTiming;
  timing.insert(timing.end(), {"--max_in_flight_per_app=2", "--retry_delay_scale=1"});
  ASSERT_TRUE(cluster_->StartWorker("w", timing).ok());
  CreateApp("/busy", 0, absl::Seconds(10));
  ASSERT_FALSE(CreateApp("/flaky", 0, absl::Seconds(10), {5}).id().empty());
  // Each event goes to both apps once ingest's cache knows both (PublishMany expects one
  // delivery per event: publish here). Probes published before went to /busy alone.
  std::vector<std::string> events;
  std::vector<std::string> early_probes;
  ASSERT_TRUE(PollUntil([&] {
    v1::PublishRequest probe;
    probe.set_tenant("fault");
    probe.set_event_type("render.completed");
    probe.set_payload(R"({"probe":true})");
    v1::PublishResponse response;
    if (!ingest_->Publish(ClientContext(cluster_->admin_token()).get(), probe, &response).ok()) {
      return false;
    }
    if (response.delivery_count() != 2) {
      if (response.delivery_count() == 1) early_probes.push_back(response.event_id());
      return false;
    }
    events.push_back(response.event_id());
    return true;
  }));
  v1::PublishBatchRequest batch;
  for (int i = 0; i < 59; ++i) {
    v1::PublishRequest* e = batch.add_events();
    e->set_tenant("fault");
    e->set_event_type("render.completed");
    e->set_payload(R"({"render":)" + std::to_string(i) + "}");
  }
  v1::PublishBatchResponse published;
  ASSERT_TRUE(
      ingest_->PublishBatch(ClientContext(cluster_->admin_token()).get(), batch, &published).ok());
  for (const auto& r : published.results()) events.push_back(r.event_id());
  // Every /flaky delivery failed once (its retry is scheduled) and /busy is still draining.
  ASSERT_TRUE(receiver_.WaitFor("/flaky", 60));
  ASSERT_TRUE(receiver_.WaitFor("/busy", 10));
  ASSERT_LT(receiver_.Received("/busy").size(), 50u) << "the backlog drained before the flush";
  RedisOptions raw_options;
  raw_options.url = redis.url();
  auto raw = queue::RedisConnection::Create(raw_options);
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_TRUE((*raw)->Command({"FLUSHALL"}).ok());
  const absl::Time flushed = absl::Now();

  const int deliveries = 120 + static_cast<int>(early_probes.size());
  ASSERT_TRUE(AllSucceeded(deliveries, absl::Seconds(30)))
      << Scalar("SELECT count(*) FROM delivery_view WHERE status = 2") << " of " << deliveries
      << " succeeded";
  std::cerr << "all delivered " << (absl::Now() - flushed) << " after the flush\n";
  std::set<std::string> want(events.begin(), events.end());
  for (const std::string path : {"/flaky", "/busy"}) {
    std::set<std::string> ids;
    for (const auto& r : receiver_.Received(path)) ids.insert(r.headers.at("webhook-id"));
    if (path == "/busy") want.insert(early_probes.begin(), early_probes.end());
    EXPECT_EQ(ids, want) << path;
  }
}

}  // namespace
}  // namespace hookd::e2e
