// hookd-ingest killed with SIGKILL while acknowledging publishes: every acknowledged event and
// its deliveries are in Postgres, and after a restart every delivery reaches a Redis stream.

#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "cluster.h"
#include "gtest/gtest.h"
#include "hookd/queue/delivery_queue.h"
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

TEST(IngestCrash, KilledRightAfterAcknowledgingLosesNothing) {
  auto db = testing::TestDatabase::Create("ingest_crash");
  ASSERT_TRUE(db.ok()) << db.status();
  auto redis = testing::TestRedisOptions("ingest_crash");
  ASSERT_TRUE(redis.ok()) << redis.status();
  Cluster cluster((*db)->url(), redis->url, redis->key_prefix, redis->partitions);
  ASSERT_TRUE(cluster.StartSubscription().ok());

  auto types = v1::EventTypeService::NewStub(cluster.subscription_channel());
  v1::CreateEventTypeRequest type;
  type.mutable_event_type()->set_name("render.completed");
  v1::EventType created_type;
  ASSERT_TRUE(
      types->CreateEventType(ClientContext(cluster.admin_token()).get(), type, &created_type).ok());
  auto apps = v1::AppService::NewStub(cluster.subscription_channel());
  for (int i = 0; i < 2; ++i) {
    v1::CreateAppRequest app;
    app.mutable_app()->set_tenant("crash");
    app.mutable_app()->set_name("receiver " + std::to_string(i));
    app.mutable_app()->set_url("http://127.0.0.1:9/hook" + std::to_string(i));
    app.mutable_app()->add_event_types("render.*");
    app.set_skip_connection_test(true);
    v1::App out;
    ASSERT_TRUE(apps->CreateApp(ClientContext(cluster.admin_token()).get(), app, &out).ok());
  }

  // A long sweep grace: after the kill, nothing but the restarted process may enqueue.
  ASSERT_TRUE(cluster.StartIngest({"--sweep_grace=1s", "--sweep_interval=200ms"}).ok());
  auto ingest = v1::IngestService::NewStub(cluster.ingest_channel());

  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> killed{false};
  std::vector<std::thread> publishers;
  for (int t = 0; t < 8; ++t) {
    publishers.emplace_back([&, t] {
      for (int i = 0; !killed.load(); ++i) {
        v1::PublishRequest request;
        request.set_tenant("crash");
        request.set_event_type("render.completed");
        request.set_payload(R"({"render_id":")" + std::to_string(t) + "-" + std::to_string(i) +
                            R"("})");
        v1::PublishResponse response;
        if (!ingest
                 ->Publish(ClientContext(cluster.admin_token(), absl::Seconds(5)).get(), request,
                           &response)
                 .ok()) {
          continue;  // the calls in flight when the process dies fail: not acknowledged
        }
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(response.event_id());
        // SIGKILL the moment the 300th acknowledgement arrives, with calls still in flight.
        if (acknowledged.size() == 300) {
          cluster.ingest().Signal(SIGKILL);
          killed.store(true);
        }
      }
    });
  }
  for (auto& t : publishers) t.join();
  ASSERT_NE(cluster.ingest().Wait(), -1);
  std::set<std::string> acked(acknowledged.begin(), acknowledged.end());
  ASSERT_GE(acked.size(), 300u);

  // Every acknowledged event is committed with its two deliveries.
  pqxx::connection conn((*db)->url());
  std::set<std::string> stored;
  std::set<std::string> delivery_ids;
  {
    pqxx::work txn(conn);
    for (const auto& row : txn.exec("SELECT id FROM events")) {
      stored.insert(row[0].as<std::string>());
    }
    for (const auto& row :
         txn.exec("SELECT event_id, count(*) FROM delivery_view GROUP BY event_id")) {
      if (acked.count(row[0].as<std::string>()) > 0) {
        EXPECT_EQ(row[1].as<int>(), 2);
      }
    }
    for (const auto& row : txn.exec("SELECT id FROM delivery_view")) {
      delivery_ids.insert(row[0].as<std::string>());
    }
  }
  for (const std::string& id : acked) EXPECT_EQ(stored.count(id), 1u) << id << " was lost";
  EXPECT_GE(delivery_ids.size(), 2 * acked.size());

  // Restarted, ingest's sweeper enqueues whatever the dead process committed but never XADDed.
  ASSERT_TRUE(cluster.StartIngest({"--sweep_grace=1s", "--sweep_interval=200ms"}).ok());
  std::set<std::string> streamed;
  EXPECT_TRUE(PollUntil(
      [&] {
        streamed = testing::StreamedDeliveryIds(*redis).value_or(std::set<std::string>());
        pqxx::work check(conn);
        return std::includes(streamed.begin(), streamed.end(), delivery_ids.begin(),
                             delivery_ids.end()) &&
               check.exec1("SELECT count(*) FROM outbox")[0].as<int>() == 0;
      },
      absl::Seconds(20), absl::Milliseconds(200)))
      << delivery_ids.size() << " deliveries committed, " << streamed.size() << " on the streams";
  cluster.StopIngest();
  (void)testing::DeleteKeys(*redis);
}

}  // namespace
}  // namespace hookd::e2e
