#include <map>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/db/pg_pool.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/testing/pg_fixture.h"

namespace hookd::opsevents {
namespace {

class OpsEventsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::MigratedDatabase::Create("ops_events", 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    pool_ = &db_->pool();
    // The operations tenant: one app for everything, one for disabled apps only, a disabled
    // one and a delayed one; and an app of another tenant that subscribes to everything.
    Exec(R"(INSERT INTO apps (id, tenant, config, secrets, active, version) VALUES
      ('app_all', 'ops', '{"name":"all","event_types":["hookd.*"]}', '', true, 1),
      ('app_disabled_only', 'ops', '{"name":"d","event_types":["hookd.app.disabled"]}', '', true, 2),
      ('app_off', 'ops', '{"name":"off","event_types":["*"]}', '', false, 3),
      ('app_later', 'ops', '{"name":"later","event_types":["*"],"delivery_delay":"60s"}', '', true, 4),
      ('app_other', 'acme', '{"name":"other","event_types":["*"]}', '', true, 5))");
  }

  void Exec(const std::string& sql) { db_->Exec(sql); }
  int64_t Count(const std::string& sql) { return db_->Scalar(sql); }

  // Publishes `events` in a transaction of its own; returns the outbox batch.
  ledger::OutboxBatch Publish(const Publisher& publisher, const std::vector<OpsEvent>& events) {
    ledger::OutboxBatch batch;
    absl::Status status = pool_->Transact("publish", [&](pqxx::work& txn) -> absl::Status {
      auto published = publisher.Publish(txn, events, absl::Now());
      if (!published.ok()) return published.status();
      batch = std::move(*published);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return batch;
  }

  // app id -> delivery status of every delivery of event type `type`.
  std::map<std::string, int> Deliveries(const std::string& type) {
    std::map<std::string, int> out;
    EXPECT_TRUE(
        pool_
            ->Transact("read",
                       [&](pqxx::work& txn) {
                         for (const auto& row : txn.exec_params(
                                  "SELECT d.app_id, d.status FROM delivery_view d JOIN events"
                                  " e ON e.id = d.event_id WHERE e.event_type = $1"
                                  " AND e.tenant = 'ops'",
                                  type)) {
                           out[row[0].as<std::string>()] = row[1].as<int>();
                         }
                         return absl::OkStatus();
                       })
            .ok());
    return out;
  }

  std::unique_ptr<testing::MigratedDatabase> db_;
  db::PgPool* pool_ = nullptr;
};

TEST_F(OpsEventsPgTest, RoutesToTheOperationsAppsButNeverToTheAppItIsAbout) {
  const Publisher publisher("ops");
  // An ops app disabled: its peers hear of it, it does not.
  ledger::OutboxBatch batch = Publish(
      publisher,
      {{kAppDisabled, [] { return std::string(R"({"app_id":"app_all"})"); }, "ops", "app_all"}});
  EXPECT_EQ(Deliveries(kAppDisabled),
            (std::map<std::string, int>{{"app_disabled_only", v1::PENDING},
                                        {"app_off", v1::HELD},
                                        {"app_later", v1::SCHEDULED}}));
  ASSERT_EQ(batch.messages.size(), 1u);  // only the PENDING one is queued at commit
  EXPECT_EQ(batch.messages[0].app_id, "app_disabled_only");
  EXPECT_NE(batch.outbox_id, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE tenant = 'ops' AND payload = "
                  "'{\"app_id\":\"app_all\"}' AND delivery_count = 3"),
            1);
}

TEST_F(OpsEventsPgTest, FailuresOfOperationsAppsAreNotReported) {
  const Publisher publisher("ops");
  // Another tenant's exhausted delivery reaches every ops app subscribed to it.
  Publish(publisher, {{kDeliveryExhausted, [] { return std::string("{}"); }, "acme", "app_other"}});
  EXPECT_EQ(Deliveries(kDeliveryExhausted),
            (std::map<std::string, int>{
                {"app_all", v1::PENDING}, {"app_off", v1::HELD}, {"app_later", v1::SCHEDULED}}));
  // An ops app's own failures make no event at all: no loop of reports about reports.
  const int64_t events = Count("SELECT count(*) FROM events");
  ledger::OutboxBatch batch =
      Publish(publisher,
              {{kDeliveryExhausted, [] { return std::string("{}"); }, "ops", "app_disabled_only"},
               {kAppFailing, [] { return std::string("{}"); }, "ops", "app_disabled_only"}});
  EXPECT_EQ(batch.outbox_id, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), events);
}

TEST_F(OpsEventsPgTest, NothingIsStoredWhenNoAppListens) {
  const Publisher nobody("ops-without-apps");
  ledger::OutboxBatch batch =
      Publish(nobody, {{kAppEnabled, [] { return std::string("{}"); }, "acme", "app_other"}});
  EXPECT_EQ(batch.outbox_id, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

TEST_F(OpsEventsPgTest, RegisteringTheTypesTwiceChangesNothingTheSecondTime) {
  ASSERT_TRUE(RegisterEventTypes(*pool_).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM event_types WHERE name LIKE 'hookd.%' AND schema IS NOT"
                  " NULL AND NOT archived"),
            4);
  const int64_t stamp =
      Count("SELECT (extract(epoch FROM max(update_time)) * 1000000)::bigint FROM event_types");
  Exec("UPDATE event_types SET archived = true WHERE name = 'hookd.app.failing'");
  ASSERT_TRUE(RegisterEventTypes(*pool_).ok());  // brings the archived one back
  EXPECT_EQ(Count("SELECT count(*) FROM event_types WHERE archived"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM event_types WHERE (extract(epoch FROM update_time) *"
                  " 1000000)::bigint > " +
                  std::to_string(stamp)),
            1);
}

// Without today's partition a report cannot be stored: it is dropped (and logged), and the
// change it reports still commits in the same transaction.
TEST_F(OpsEventsPgTest, AReportWithoutItsDaysPartitionIsDroppedNotTheChange) {
  const std::string today = "_p" + absl::FormatTime("%Y%m%d", absl::Now(), absl::UTCTimeZone());
  for (const char* table : {"attempts", "deliveries", "events"}) {
    Exec(std::string("ALTER TABLE ") + table + " DETACH PARTITION " + table + today);
    Exec(std::string("DROP TABLE ") + table + today);
  }
  const Publisher publisher("ops");
  ledger::OutboxBatch batch;
  absl::Status status = pool_->Transact("change and report", [&](pqxx::work& txn) {
    txn.exec("UPDATE apps SET active = false WHERE id = 'app_other'");  // the change
    auto published = publisher.Publish(
        txn, {{kAppDisabled, [] { return std::string("{}"); }, "acme", "app_other"}}, absl::Now());
    if (!published.ok()) return published.status();
    batch = std::move(*published);
    return absl::OkStatus();
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(batch.outbox_id, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM apps WHERE id = 'app_other' AND NOT active"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

}  // namespace
}  // namespace hookd::opsevents
