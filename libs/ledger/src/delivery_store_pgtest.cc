#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/db/sql.h"
#include "hookd/db/test_database.h"
#include "hookd/ledger/delivery_store.h"

namespace hookd::ledger {
namespace {

class DeliveryStorePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = db::TestDatabase::Create("delivery_store");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(db::Migrate(db_->url()).ok());
    // One connection: the store's prepared statements are then visible to EXPLAIN below.
    auto pool = db::PgPool::Create(db_->url(), 1);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<DeliveryStore>(*pool_, "store-test-worker");
  }

  void Exec(const std::string& sql) {
    ASSERT_TRUE(pool_
                    ->Transact("exec",
                               [&](pqxx::work& txn) {
                                 txn.exec(sql);
                                 return absl::OkStatus();
                               })
                    .ok())
        << sql;
  }

  std::unique_ptr<db::TestDatabase> db_;
  std::unique_ptr<db::PgPool> pool_;
  std::unique_ptr<DeliveryStore> store_;
};

// The state of every busy installation: statistics say (nearly) every delivery succeeded, while
// the partial indexes on unsucceeded deliveries still hold an entry for each delivery inserted
// since the last vacuum. The batch update must still find its rows by id, not by hashing the
// whole partial index (which made each batch take 30 ms at 700k deliveries).
TEST_F(DeliveryStorePgTest, RecordFindsTheBatchByIdWhateverTheStatisticsSay) {
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status)"
      " SELECT 'dlv_old_' || lpad(g::text, 6, '0'), 'evt_old_' || g, 'app_1', 'acme',"
      " 'video.ready', 2 FROM generate_series(1, 20000) g");
  Exec("ANALYZE deliveries");
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
      " SELECT 'dlv_new_' || lpad(g::text, 6, '0'), 'evt_new_' || g, 'app_1', 'acme',"
      " 'video.ready' FROM generate_series(1, 2000) g");

  std::vector<Outcome> outcomes;
  for (int i = 1; i <= 100; ++i) {
    Outcome o;
    o.delivery_id = absl::StrFormat("dlv_new_%06d", i);
    o.app_id = "app_1";
    o.attempted = true;
    o.attempt = 1;
    o.status = v1::SUCCEEDED;
    o.result.status_code = 200;
    o.result.start_time = absl::Now();
    o.result.duration = absl::Milliseconds(3);
    o.counts_success = true;
    outcomes.push_back(o);
  }
  auto recorded = store_->Record(outcomes);
  ASSERT_TRUE(recorded.ok()) << recorded.status();

  std::string plan;
  int succeeded = 0;
  int attempts = 0;
  ASSERT_TRUE(
      pool_
          ->Transact(
              "check",
              [&](pqxx::work& txn) {
                succeeded = txn.exec1(
                                   "SELECT count(*) FROM deliveries WHERE id LIKE "
                                   "'dlv_new_%' AND status = 2 AND "
                                   "attempt_count = 1 AND last_status_code = 200")[0]
                                .as<int>();
                attempts = txn.exec1("SELECT count(*) FROM attempts")[0].as<int>();
                // The plan the store's statement gets for this batch.
                std::vector<std::string> ids, statuses, numbers, codes, nexts, flags;
                for (const Outcome& o : outcomes) {
                  ids.push_back(o.delivery_id);
                  statuses.push_back("2");
                  numbers.push_back("1");
                  codes.push_back("200");
                  nexts.push_back("");
                  flags.push_back("t");
                }
                std::string args;
                for (const auto* values : {&ids, &statuses, &numbers, &codes, &nexts, &flags}) {
                  args += (args.empty() ? "" : ", ") + txn.quote(db::ArrayLiteral(*values));
                }
                for (const auto& row : txn.exec("EXPLAIN EXECUTE worker_record(" + args + ")")) {
                  plan += row[0].as<std::string>() + "\n";
                }
                return absl::OkStatus();
              })
          .ok());
  EXPECT_EQ(succeeded, 100);
  EXPECT_EQ(attempts, 100);
  EXPECT_NE(plan.find("Index Scan using deliveries_pkey on deliveries d"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("unsucceeded"), std::string::npos) << plan;
}

int64_t Count(db::PgPool& pool, const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(pool.Transact("count",
                            [&](pqxx::work& txn) {
                              n = txn.exec1(sql)[0].as<int64_t>();
                              return absl::OkStatus();
                            })
                  .ok());
  return n;
}

// A delivery held while its app is disabled must not stay held once the app is active again,
// even if nobody resumed it (EnableApp died half-way, or ingest routed by a stale cache).
TEST_F(DeliveryStorePgTest, ClaimLostSweepsUpTheHeldDeliveriesOfActiveAppsOnly) {
  Exec(
      "INSERT INTO apps (id, tenant, config, secrets, active, version) VALUES"
      " ('app_on', 'acme', '{}', '', true, 1), ('app_off', 'acme', '{}', '', false, 2)");
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status, update_time)"
      " VALUES ('dlv_1', 'evt_1', 'app_on', 'acme', 'video.ready', 5, now() - interval '1 min'),"
      " ('dlv_2', 'evt_2', 'app_off', 'acme', 'video.ready', 5, now() - interval '1 min'),"
      " ('dlv_3', 'evt_3', 'app_on', 'acme', 'video.ready', 5, now())");
  // Held before its deliver_at came: it waits for that time.
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status, update_time,"
      " next_attempt_time) VALUES ('dlv_4', 'evt_4', 'app_on', 'acme', 'video.ready', 5,"
      " now() - interval '1 min', now() + interval '1 hour')");
  auto lost = store_->ClaimLost(absl::Seconds(10), 100);
  ASSERT_TRUE(lost.ok()) << lost.status();
  // dlv_2's app is disabled; dlv_3 is younger than the grace (EnableApp may be resuming it);
  // dlv_4 is not due.
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ((*lost)[0].delivery_id, "dlv_1");
  lost = store_->ClaimLost(absl::Seconds(10), 100);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_TRUE(lost->empty()) << "claimed again within the grace";
}

// Migration 7: deliveries that workers parked for a disabled app (unfinished, never due) are
// HELD.
TEST(HeldMigration, ParkedDeliveriesBecomeHeld) {
  auto db = db::TestDatabase::Create("held_migration");
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<db::Migration> before;
  for (const db::Migration& m : db::BuiltinMigrations()) {
    if (m.version < 7) before.push_back(m);
  }
  ASSERT_TRUE(db::Migrate((*db)->url(), before).ok());
  auto pool = db::PgPool::Create((*db)->url(), 1);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)
                  ->Transact("seed",
                             [](pqxx::work& txn) {
                               txn.exec(
                                   "INSERT INTO deliveries (id, event_id, app_id, tenant,"
                                   " event_type, status, next_attempt_time) VALUES"
                                   " ('dlv_p', 'e1', 'a', 't', 'x', 1, 'infinity'),"
                                   " ('dlv_r', 'e2', 'a', 't', 'x', 3, 'infinity'),"
                                   " ('dlv_due', 'e3', 'a', 't', 'x', 3, now()),"
                                   " ('dlv_ok', 'e4', 'a', 't', 'x', 2, 'infinity')");
                               return absl::OkStatus();
                             })
                  .ok());
  ASSERT_TRUE(db::Migrate((*db)->url()).ok());
  EXPECT_EQ(Count(**pool, "SELECT count(*) FROM deliveries WHERE status = 5"), 2);
  EXPECT_EQ(Count(**pool,
                  "SELECT count(*) FROM deliveries WHERE status = 5 AND id IN"
                  " ('dlv_p', 'dlv_r')"),
            2);
  EXPECT_EQ(Count(**pool, "SELECT count(*) FROM deliveries WHERE id = 'dlv_due' AND status = 3"),
            1);
  EXPECT_EQ(Count(**pool, "SELECT count(*) FROM deliveries WHERE id = 'dlv_ok' AND status = 2"), 1);
}

}  // namespace
}  // namespace hookd::ledger
