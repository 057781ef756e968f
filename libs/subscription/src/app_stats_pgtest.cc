// DeliveryService.GetAppStats through gRPC, over attempts recorded by hookd-worker's own store
// (the code that writes them in production) into a real Postgres.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hookd/common/proto_time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/log_rows.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/testing.h"
#include "hookd/v1/app.grpc.pb.h"
#include "hookd/v1/delivery.grpc.pb.h"

namespace hookd::subscription {
namespace {

using google::protobuf::util::TimeUtil;
using testing::ClientContext;
using testing::kTestAdminToken;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

int64_t Millis(const google::protobuf::Duration& d) { return TimeUtil::DurationToMilliseconds(d); }

// One attempt the worker makes, and the delivery's state after it.
struct Step {
  int delivery;  // index into the app's in-window deliveries
  int attempt;
  int status_code;  // 0: no answer (a timeout)
  int duration_ms;
  v1::DeliveryStatus status;
  bool counts_success = false;
  bool counts_failure = false;
};

class AppStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create("app_stats");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.postgres.url = db_->url();
    options.admin_token = kTestAdminToken;
    options.master_key = testing::kTestMasterKey;
    options.postgres.pool_size = 2;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                       grpc::InsecureChannelCredentials());
    apps_ = v1::AppService::NewStub(channel);
    deliveries_ = v1::DeliveryService::NewStub(channel);
    auto pool = db::PgPool::Create({.url = db_->url(), .pool_size = 1});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<ledger::DeliveryStore>(*pool_, "stats-test-worker");
  }

  std::string CreateApp(const std::string& name) {
    v1::CreateAppRequest request;
    request.mutable_app()->set_tenant("acme");
    request.mutable_app()->set_name(name);
    request.mutable_app()->set_url("https://hooks.example.com/" + name);
    request.mutable_app()->add_event_types("video.ready");
    request.set_skip_connection_test(true);
    v1::App app;
    grpc::Status status = apps_->CreateApp(ClientContext(kTestAdminToken).get(), request, &app);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return app.id();
  }

  // Events of acme at `times`, one delivery each to `app_id`; returns the delivery ids.
  std::vector<std::string> Publish(const std::string& app_id,
                                   const std::vector<absl::Time>& times) {
    std::vector<std::string> ids;
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    for (absl::Time t : times) {
      ids.push_back(testing::InsertEvent(txn, id_generator_, t, "acme", {app_id}).delivery_ids[0]);
    }
    txn.commit();
    return ids;
  }

  // Records one attempt through the worker's store, as its own batch.
  void Record(const std::string& delivery_id, const std::string& app_id, const Step& step,
              absl::Time start) {
    ledger::Outcome outcome;
    outcome.delivery_id = delivery_id;
    outcome.app_id = app_id;
    outcome.attempt = step.attempt;
    outcome.result.status_code = step.status_code;
    outcome.result.error =
        step.status_code == 0 ? v1::ATTEMPT_ERROR_TIMEOUT : v1::ATTEMPT_ERROR_NONE;
    outcome.result.start_time = start;
    outcome.result.duration = absl::Milliseconds(step.duration_ms);
    outcome.status = step.status;
    outcome.next_attempt_time =
        step.status == v1::RETRYING ? start + absl::Minutes(5) : absl::InfinitePast();
    outcome.counts_success = step.counts_success;
    outcome.counts_failure = step.counts_failure;
    auto recorded = store_->Record({outcome});
    ASSERT_TRUE(recorded.ok()) << recorded.status();
  }

  grpc::Status Stats(const v1::GetAppStatsRequest& request, v1::AppStats* stats,
                     const std::string& token = kTestAdminToken) {
    return deliveries_->GetAppStats(ClientContext(token).get(), request, stats);
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::AppService::Stub> apps_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
  std::unique_ptr<db::PgPool> pool_;
  std::unique_ptr<ledger::DeliveryStore> store_;
  IdGenerator id_generator_;
};

TEST_F(AppStatsTest, CountsRateLatencyStreakAndDeliveriesOfTheWindow) {
  // Whole milliseconds: what Postgres keeps (microseconds) then compares exactly.
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  const std::string app = CreateApp("stats");
  const std::string other = CreateApp("other");

  // One delivery of three days ago, ten of the last day, and one to another app (in time
  // order: an IdGenerator never goes back in time).
  const std::string old_id = Publish(app, {now - absl::Hours(72)})[0];
  std::vector<absl::Time> created;
  for (int i = 0; i < 10; ++i) created.push_back(now - absl::Hours(2) + absl::Minutes(i));
  const std::vector<std::string> ids = Publish(app, created);
  const std::string other_id = Publish(other, {now - absl::Hours(1)})[0];

  // Outside the window, or of the other app: slow attempts that would show in p99 if counted.
  Record(old_id, app, {0, 1, 200, 5000, v1::SUCCEEDED, true}, now - absl::Hours(72));
  Record(other_id, other, {0, 1, 200, 9999, v1::SUCCEEDED, true}, now - absl::Minutes(10));

  // Eleven attempts of 10, 20, ... 110 ms, one a minute: six answered 2xx, five did not (500,
  // 429, 500, a timeout, 503). The streak ends with two failed deliveries after a success.
  const std::vector<Step> steps = {
      {0, 1, 200, 10, v1::SUCCEEDED, true},
      {1, 1, 200, 20, v1::SUCCEEDED, true},
      {2, 1, 500, 30, v1::RETRYING},
      {2, 2, 204, 40, v1::SUCCEEDED, true},
      {3, 1, 200, 50, v1::SUCCEEDED, true},
      {4, 1, 299, 60, v1::SUCCEEDED, true},
      {5, 1, 429, 70, v1::RETRYING},
      {5, 2, 200, 80, v1::SUCCEEDED, true},
      {6, 1, 500, 90, v1::FAILED, false, true},
      {7, 1, 0, 100, v1::FAILED, false, true},
      {9, 1, 503, 110, v1::RETRYING},
  };
  const absl::Time first_start = now - absl::Minutes(90);
  std::vector<absl::Time> starts;
  for (size_t i = 0; i < steps.size(); ++i) {
    starts.push_back(first_start + absl::Minutes(static_cast<int64_t>(i)));
    Record(ids[steps[i].delivery], app, steps[i], starts.back());
  }

  v1::GetAppStatsRequest request;
  request.set_app_id(app);
  v1::AppStats stats;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(Stats(request, &stats).ok());
  const absl::Time after = absl::Now();
  EXPECT_EQ(stats.app_id(), app);
  // The default window: the 24 hours before now.
  EXPECT_GE(ToAbslTime(stats.until()), before);
  EXPECT_LE(ToAbslTime(stats.until()), after);
  EXPECT_EQ(ToAbslTime(stats.until()) - ToAbslTime(stats.since()), absl::Hours(24));
  EXPECT_EQ(stats.attempts(), 11);
  EXPECT_EQ(stats.succeeded_attempts(), 6);
  EXPECT_EQ(stats.failed_attempts(), 5);
  EXPECT_DOUBLE_EQ(stats.success_rate(), 6.0 / 11.0);
  // Nearest rank: the 6th and the 11th of the eleven durations.
  EXPECT_EQ(Millis(stats.latency_p50()), 60);
  EXPECT_EQ(Millis(stats.latency_p99()), 110);
  EXPECT_EQ(stats.deliveries().pending(), 1);  // ids[8], never attempted
  EXPECT_EQ(stats.deliveries().succeeded(), 6);
  EXPECT_EQ(stats.deliveries().retrying(), 1);
  EXPECT_EQ(stats.deliveries().failed(), 2);
  EXPECT_EQ(stats.failure_streak(), 2);
  EXPECT_EQ(ToAbslTime(stats.last_attempt_time()), starts[10]);
  EXPECT_EQ(ToAbslTime(stats.last_success_time()), starts[7]);

  // A window of the first three attempts (and none of the deliveries' creation).
  request.mutable_since()->CopyFrom(ToProto(starts[0]));
  request.mutable_until()->CopyFrom(ToProto(starts[3]));
  ASSERT_TRUE(Stats(request, &stats).ok());
  EXPECT_EQ(ToAbslTime(stats.since()), starts[0]);
  EXPECT_EQ(ToAbslTime(stats.until()), starts[3]);
  EXPECT_EQ(stats.attempts(), 3);
  EXPECT_EQ(stats.succeeded_attempts(), 2);
  EXPECT_EQ(stats.failed_attempts(), 1);
  EXPECT_DOUBLE_EQ(stats.success_rate(), 2.0 / 3.0);
  EXPECT_EQ(Millis(stats.latency_p50()), 20);
  EXPECT_EQ(Millis(stats.latency_p99()), 30);
  EXPECT_EQ(stats.deliveries().ByteSizeLong(), 0u);  // every count zero
  // The latest attempt and success are of any time, and the streak is the app's now.
  EXPECT_EQ(ToAbslTime(stats.last_attempt_time()), starts[10]);
  EXPECT_EQ(ToAbslTime(stats.last_success_time()), starts[7]);
  EXPECT_EQ(stats.failure_streak(), 2);

  // Four days back takes in the old delivery and its 5 s attempt: now the 12th duration.
  request.mutable_since()->CopyFrom(ToProto(now - absl::Hours(96)));
  request.clear_until();
  ASSERT_TRUE(Stats(request, &stats).ok());
  EXPECT_EQ(stats.attempts(), 12);
  EXPECT_EQ(stats.succeeded_attempts(), 7);
  EXPECT_EQ(Millis(stats.latency_p50()), 60);
  EXPECT_EQ(Millis(stats.latency_p99()), 5000);
  EXPECT_EQ(stats.deliveries().succeeded(), 7);

  // Only `until`: the 24 hours before it, which hold nothing of this app.
  request.clear_since();
  request.mutable_until()->CopyFrom(ToProto(now - absl::Hours(24)));
  ASSERT_TRUE(Stats(request, &stats).ok());
  EXPECT_EQ(ToAbslTime(stats.since()), now - absl::Hours(48));
  EXPECT_EQ(stats.attempts(), 0);
  EXPECT_EQ(stats.success_rate(), 0);
  EXPECT_FALSE(stats.has_latency_p50());
  EXPECT_FALSE(stats.has_latency_p99());
  EXPECT_EQ(stats.deliveries().ByteSizeLong(), 0u);
}

TEST_F(AppStatsTest, AnAppWithoutAttemptsHasNoLatencyNorLastTimes) {
  const std::string app = CreateApp("quiet");
  Publish(app, {absl::Now() - absl::Minutes(5)});
  v1::GetAppStatsRequest request;
  request.set_app_id(app);
  v1::AppStats stats;
  ASSERT_TRUE(Stats(request, &stats).ok());
  EXPECT_EQ(stats.attempts(), 0);
  EXPECT_EQ(stats.success_rate(), 0);
  EXPECT_FALSE(stats.has_latency_p50());
  EXPECT_EQ(stats.deliveries().pending(), 1);
  EXPECT_EQ(stats.failure_streak(), 0);
  EXPECT_FALSE(stats.has_last_attempt_time());
  EXPECT_FALSE(stats.has_last_success_time());
}

TEST_F(AppStatsTest, BadRequestsNameTheFieldAndUnknownAppsAreNotFound) {
  const std::string app = CreateApp("errors");
  const absl::Time now = absl::Now();
  struct Case {
    std::string app_id;
    std::optional<google::protobuf::Timestamp> since;
    std::optional<google::protobuf::Timestamp> until;
    grpc::StatusCode code;
    std::string field;
  };
  google::protobuf::Timestamp malformed;
  malformed.set_nanos(-1);
  const std::vector<Case> cases = {
      {"", std::nullopt, std::nullopt, grpc::StatusCode::INVALID_ARGUMENT, "app_id"},
      {app, ToProto(now), ToProto(now - absl::Hours(1)), grpc::StatusCode::INVALID_ARGUMENT,
       "until"},
      {app, ToProto(now), ToProto(now), grpc::StatusCode::INVALID_ARGUMENT, "until"},
      {app, malformed, std::nullopt, grpc::StatusCode::INVALID_ARGUMENT, "since"},
      {app, std::nullopt, malformed, grpc::StatusCode::INVALID_ARGUMENT, "until"},
      // The window is checked before the app is looked up.
      {"app_01JDXK8N5V3Q9G2M7T4R6W8Y0Z", ToProto(now), ToProto(now),
       grpc::StatusCode::INVALID_ARGUMENT, "until"},
      {"app_01JDXK8N5V3Q9G2M7T4R6W8Y0Z", std::nullopt, std::nullopt, grpc::StatusCode::NOT_FOUND,
       ""},
  };
  for (const Case& c : cases) {
    v1::GetAppStatsRequest request;
    request.set_app_id(c.app_id);
    if (c.since) *request.mutable_since() = *c.since;
    if (c.until) *request.mutable_until() = *c.until;
    v1::AppStats stats;
    grpc::Status status = Stats(request, &stats);
    EXPECT_EQ(status.error_code(), c.code) << c.app_id << " " << status.error_message();
    if (!c.field.empty()) {
      EXPECT_EQ(status.error_message().substr(0, c.field.size() + 1), c.field + ":")
          << status.error_message();
    }
  }

  v1::GetAppStatsRequest request;
  request.set_app_id(app);
  v1::AppStats stats;
  EXPECT_EQ(Stats(request, &stats, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Stats(request, &stats, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  v1::DeleteAppRequest del;
  del.set_id(app);
  google::protobuf::Empty empty;
  ASSERT_TRUE(apps_->DeleteApp(ClientContext(kTestAdminToken).get(), del, &empty).ok());
  EXPECT_EQ(Stats(request, &stats).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace hookd::subscription
