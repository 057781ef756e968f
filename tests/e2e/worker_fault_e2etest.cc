// Several hookd-workers at once, crashes and a Redis that forgets: real processes, real
// Postgres, Redis and HTTP receiver.

#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/db/test_database.h"
#include "hookd/queue/test_redis.h"
#include "hookd/testing/process.h"
#include "hookd/testing/receiver.h"
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
    auto db = db::TestDatabase::Create("worker_fault");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto redis = queue::TestRedisOptions("worker_fault");
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
    (void)queue::DeleteKeys(redis_);
  }

  v1::App CreateApp(const std::string& path, int rate_limit = 0,
                    absl::Duration timeout = absl::Seconds(10)) {
    v1::CreateAppRequest request;
    v1::App* app = request.mutable_app();
    app->set_tenant("fault");
    app->set_name("fault " + path);
    app->set_url(receiver_.url(path));
    app->add_event_types("*");
    app->set_rate_limit_per_second(rate_limit);
    app->mutable_timeout()->set_seconds(absl::ToInt64Seconds(timeout));
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
        [&] { return Scalar("SELECT count(*) FROM deliveries WHERE status = 2") == count; },
        timeout, absl::Milliseconds(100));
  }

  std::unique_ptr<db::TestDatabase> db_;
  queue::RedisOptions redis_;
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
  ASSERT_TRUE(cluster_->StartWorker("w").ok());
  // The worker recreates its group and its lost-delivery sweep re-enqueues what Redis forgot.
  ASSERT_TRUE(AllSucceeded(50, absl::Seconds(60)));
  std::set<std::string> ids;
  for (const auto& r : receiver_.Received("/amnesia")) ids.insert(r.headers.at("webhook-id"));
  EXPECT_EQ(ids, std::set<std::string>(events.begin(), events.end()));
}

}  // namespace
}  // namespace hookd::e2e
