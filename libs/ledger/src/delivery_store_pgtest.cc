#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/common/ids.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/db/sql.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/ledger/partitions.h"
#include "hookd/testing/pg_fixture.h"

namespace hookd::ledger {
namespace {

// An id of `prefix` made today, ending in `name`: deliveries go to the partition of their id's
// day (migration 9), so a test's ids carry a real day.
std::string Today(std::string_view prefix, std::string_view name) {
  return IdLowerBoundAt(prefix, absl::Now()).substr(0, prefix.size() + 11) + std::string(name);
}

class DeliveryStorePgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One connection: the store's prepared statements are then visible to EXPLAIN below.
    auto db = testing::MigratedDatabase::Create("delivery_store", 1);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    pool_ = &db_->pool();
    store_ = std::make_unique<DeliveryStore>(*pool_, "store-test-worker");
  }

  void Exec(const std::string& sql) { db_->Exec(sql); }
  int64_t Count(const std::string& sql) { return db_->Scalar(sql); }
  // A PENDING state row for every delivery without one (what ingest writes with each delivery).
  void AddPendingStates() {
    Exec(
        "INSERT INTO delivery_state (id, app_id, tenant, status) SELECT id, app_id, tenant, 1"
        " FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM delivery_state s WHERE s.id = d.id)");
  }

  std::unique_ptr<testing::MigratedDatabase> db_;
  db::PgPool* pool_ = nullptr;
  std::unique_ptr<DeliveryStore> store_;
};

// The state of every busy installation: statistics say the state table holds only finished
// deliveries, while its indexes still hold an entry for each delivery that succeeded since the
// last vacuum. The batch must still be found by id, not by hashing a whole status index (which
// made each batch take 30 ms at 700k deliveries).
TEST_F(DeliveryStorePgTest, RecordFindsTheBatchByIdWhateverTheStatisticsSay) {
  const std::string day = Today("dlv", "");
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
      " SELECT '" +
      day + "old_" +
      "' || lpad(g::text, 6, '0'), 'evt_old_' || g, 'app_1', 'acme',"
      " 'video.ready' FROM generate_series(1, 20000) g");
  Exec(
      "INSERT INTO delivery_state (id, app_id, tenant, status) SELECT id, app_id, tenant, 4"
      " FROM deliveries");
  Exec("ANALYZE deliveries, delivery_state");
  Exec("DELETE FROM delivery_state");
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
      " SELECT '" +
      day + "new_" +
      "' || lpad(g::text, 6, '0'), 'evt_new_' || g, 'app_1', 'acme',"
      " 'video.ready' FROM generate_series(1, 2000) g");
  AddPendingStates();

  std::vector<Outcome> outcomes;
  for (int i = 1; i <= 100; ++i) {
    Outcome o;
    o.delivery_id = day + absl::StrFormat("new_%06d", i);
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
          ->Transact("check",
                     [&](pqxx::work& txn) {
                       succeeded = txn.exec1(
                                          "SELECT count(*) FROM delivery_view WHERE id LIKE "
                                          "'%new_%' AND status = 2 AND "
                                          "attempt_count = 1 AND last_status_code = 200")[0]
                                       .as<int>();
                       attempts = txn.exec1("SELECT count(*) FROM attempts")[0].as<int>();
                       // The plan the store's statement gets for this batch (of successes only).
                       std::vector<std::string> ids;
                       for (const Outcome& o : outcomes) ids.push_back(o.delivery_id);
                       for (const auto& row : txn.exec("EXPLAIN EXECUTE worker_succeeded(" +
                                                       txn.quote(db::ArrayLiteral(ids)) + ")")) {
                         plan += row[0].as<std::string>() + "\n";
                       }
                       return absl::OkStatus();
                     })
          .ok());
  EXPECT_EQ(succeeded, 100);
  EXPECT_EQ(attempts, 100);
  // The primary key of the day's state partition (migrations 9 and 12), never a status index.
  const std::string partition =
      "delivery_state_p" + absl::FormatTime("%Y%m%d", absl::Now(), absl::UTCTimeZone());
  EXPECT_NE(plan.find("Index Scan using " + partition + "_pkey on " + partition), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("status_id_idx"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("next_attempt_time_idx"), std::string::npos) << plan;
}

// A delivery held while its app is disabled must not stay held once the app is active again,
// even if nobody resumed it (EnableApp died half-way, or ingest routed by a stale cache).
TEST_F(DeliveryStorePgTest, ClaimLostSweepsUpTheHeldDeliveriesOfActiveAppsOnly) {
  Exec(
      "INSERT INTO apps (id, tenant, config, secrets, active, version) VALUES"
      " ('app_on', 'acme', '{}', '', true, 1), ('app_off', 'acme', '{}', '', false, 2)");
  const std::string dlv_1 = Today("dlv", "1"), dlv_2 = Today("dlv", "2"), dlv_3 = Today("dlv", "3"),
                    dlv_4 = Today("dlv", "4");
  Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + dlv_1 +
       "', 'evt_1', 'app_on', 'acme', 'video.ready'), ('" + dlv_2 +
       "', 'evt_2', 'app_off', 'acme', 'video.ready'), ('" + dlv_3 +
       "', 'evt_3', 'app_on', 'acme', 'video.ready'), ('" + dlv_4 +
       "', 'evt_4', 'app_on', 'acme', 'video.ready')");
  Exec("INSERT INTO delivery_state (id, app_id, tenant, status, update_time) VALUES ('" + dlv_1 +
       "', 'app_on', 'acme', 5, now() - interval '1 min'), ('" + dlv_2 +
       "', 'app_off', 'acme', 5, now() - interval '1 min'), ('" + dlv_3 +
       "', 'app_on', 'acme', 5, now())");
  // Held before its deliver_at came: it waits for that time.
  Exec(
      "INSERT INTO delivery_state (id, app_id, tenant, status, update_time, next_attempt_time)"
      " VALUES ('" +
      dlv_4 + "', 'app_on', 'acme', 5, now() - interval '1 min', now() + interval '1 hour')");
  auto lost = store_->ClaimLost(absl::Seconds(10), 100);
  ASSERT_TRUE(lost.ok()) << lost.status();
  // dlv_2's app is disabled; dlv_3 is younger than the grace (EnableApp may be resuming it);
  // dlv_4 is not due.
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ((*lost)[0].delivery_id, dlv_1);
  lost = store_->ClaimLost(absl::Seconds(10), 100);
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_TRUE(lost->empty()) << "claimed again within the grace";
}

// Migration 7: deliveries that workers parked for a disabled app (unfinished, never due) are
// HELD.
TEST(HeldMigration, ParkedDeliveriesBecomeHeld) {
  std::vector<db::Migration> before;
  for (const db::Migration& m : db::BuiltinMigrations()) {
    if (m.version < 7) before.push_back(m);
  }
  auto db = testing::MigratedDatabase::Create("held_migration", 1, before);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string p = Today("dlv", "p"), r = Today("dlv", "r"), due = Today("dlv", "due"),
                    ok = Today("dlv", "ok");
  (*db)->Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status,"
      " next_attempt_time) VALUES ('" +
      p + "', 'e1', 'a', 't', 'x', 1, 'infinity'), ('" + r +
      "', 'e2', 'a', 't', 'x', 3, 'infinity'), ('" + due + "', 'e3', 'a', 't', 'x', 3, now()), ('" +
      ok + "', 'e4', 'a', 't', 'x', 2, 'infinity')");
  ASSERT_TRUE(db::Migrate((*db)->url()).ok());
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM delivery_view WHERE status = 5 AND id IN ('" + p +
                          "', '" + r + "')"),
            2);
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM delivery_view WHERE status = 5"), 2);
  EXPECT_EQ(
      (*db)->Scalar("SELECT count(*) FROM delivery_view WHERE id = '" + due + "' AND status = 3"),
      1);
  EXPECT_EQ(
      (*db)->Scalar("SELECT count(*) FROM delivery_view WHERE id = '" + ok + "' AND status = 2"),
      1);
}

// A failed delivery of app `app_id`, attempted for the `attempt`th time, that counts toward its
// streak: FAILED for good when `final`, RETRYING otherwise.
Outcome Failure(const std::string& delivery_id, const std::string& app_id, int attempt,
                bool final) {
  Outcome o;
  o.delivery_id = delivery_id;
  o.app_id = app_id;
  o.attempt = attempt;
  o.status = final ? v1::FAILED : v1::RETRYING;
  o.next_attempt_time = final ? absl::InfinitePast() : absl::Now() + absl::Minutes(1);
  o.result.status_code = 503;
  o.result.error = v1::ATTEMPT_ERROR_HTTP_STATUS;
  o.result.start_time = absl::Now();
  o.counts_failure = true;
  return o;
}

// The insert-only hot path (migration 12): a success inserts its attempt and deletes the
// delivery's state row, and never writes the delivery's own row; a failure keeps the state row,
// and a late success of a failed delivery changes nothing.
TEST_F(DeliveryStorePgTest, ASuccessWritesItsAttemptAndDeletesItsStateOnly) {
  const std::string ok = Today("dlv", "ok"), bad = Today("dlv", "bad");
  Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + ok +
       "', 'evt_1', 'app_1', 'acme', 'video.ready'), ('" + bad +
       "', 'evt_2', 'app_1', 'acme', 'video.ready')");
  AddPendingStates();
  // The transaction that last wrote each row: an update would change it.
  const auto writers = [&] {
    std::string xmins;
    EXPECT_TRUE(pool_
                    ->Transact("xmin",
                               [&](pqxx::work& txn) {
                                 xmins = txn.exec1(
                                                "SELECT string_agg(xmin::text, ',' ORDER BY id)"
                                                " FROM deliveries")[0]
                                             .as<std::string>();
                                 return absl::OkStatus();
                               })
                    .ok());
    return xmins;
  };
  const std::string before = writers();
  Outcome success;
  success.delivery_id = ok;
  success.app_id = "app_1";
  success.attempt = 1;
  success.status = v1::SUCCEEDED;
  success.result.status_code = 200;
  success.result.start_time = absl::Now();
  success.counts_success = true;
  ASSERT_TRUE(store_->Record({success, Failure(bad, "app_1", 1, /*final=*/true)}).ok());

  EXPECT_EQ(writers(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_state WHERE id = '" + ok + "'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM attempts"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_view WHERE id = '" + ok +
                  "' AND status = 2 AND attempt_count = 1 AND last_status_code = 200"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM delivery_view WHERE id = '" + bad +
                  "' AND status = 4 AND attempt_count = 1 AND last_status_code = 503"),
            1);

  // A late success of the failed one (a duplicate stream entry): its attempt is logged, its
  // state stays FAILED.
  success.delivery_id = bad;
  success.attempt = 2;
  ASSERT_TRUE(store_->Record({success}).ok());
  EXPECT_EQ(Count("SELECT status FROM delivery_state WHERE id = '" + bad + "'"), v1::FAILED);
  EXPECT_EQ(writers(), before);
}

// What operational events report is found by Record itself: each exhausted delivery once, the
// streak's half-way mark once, the threshold; and what `after` fails rolls everything back.
TEST_F(DeliveryStorePgTest, RecordReportsExhaustedDeliveriesAndStreakMarksOnce) {
  const std::string day = Today("dlv", "");
  const auto dlv = [&](int n) { return day + std::to_string(n); };
  Exec(
      "INSERT INTO apps (id, tenant, config, secrets, active, version) VALUES"
      " ('app_1', 'acme', '{\"name\":\"Encoder\",\"disable_after_failures\":4}', '', true, 1)");
  Exec(
      "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
      " SELECT '" +
      day +
      "' || g, 'evt_' || g, 'app_1', 'acme', 'video.ready'"
      " FROM generate_series(1, 5) g");
  AddPendingStates();

  // 1 of 4: one delivery exhausted, no mark.
  Outcome exhausted = Failure(dlv(1), "app_1", 3, /*final=*/true);
  exhausted.event_id = "evt_1";  // the worker's, from the delivery it loaded
  exhausted.event_type = "video.ready";
  auto first = store_->Record({exhausted});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->exhausted.size(), 1u);
  EXPECT_EQ(first->exhausted[0].delivery_id, dlv(1));
  EXPECT_EQ(first->exhausted[0].event_id, "evt_1");
  EXPECT_EQ(first->exhausted[0].event_type, "video.ready");
  EXPECT_EQ(first->exhausted[0].tenant, "acme");
  EXPECT_EQ(first->exhausted[0].attempts, 3);
  EXPECT_EQ(first->exhausted[0].last_result.status_code, 503);
  EXPECT_TRUE(first->failing.empty());
  EXPECT_TRUE(first->reached.empty());

  // 2 of 4 (a retry, not exhausted): half-way.
  const std::vector<Outcome> second_batch = {Failure(dlv(2), "app_1", 1, /*final=*/false)};
  auto second = store_->Record(second_batch);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->exhausted.empty());
  ASSERT_EQ(second->failing.size(), 1u);
  EXPECT_EQ(second->failing[0].app_id, "app_1");
  EXPECT_EQ(second->failing[0].app_name, "Encoder");
  EXPECT_EQ(second->failing[0].streak, 2);
  EXPECT_EQ(second->failing[0].threshold, 4);
  EXPECT_EQ(second->failing[0].last_delivery_id, dlv(2));
  EXPECT_TRUE(second->reached.empty());

  // The exhausted delivery recorded again (a duplicate stream entry): not reported again; the
  // streak goes on past half-way without a second mark.
  auto again = store_->Record({Failure(dlv(1), "app_1", 3, /*final=*/true)});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->exhausted.empty());
  EXPECT_TRUE(again->failing.empty());
  EXPECT_TRUE(again->reached.empty());

  // What `after` refuses is rolled back: no attempt, no state, no streak.
  const int64_t attempts = Count("SELECT count(*) FROM attempts");
  auto refused = store_->Record({Failure(dlv(3), "app_1", 5, /*final=*/true)},
                                [](pqxx::work&, const Recorded& recorded) {
                                  EXPECT_EQ(recorded.exhausted.size(), 1u);
                                  EXPECT_EQ(recorded.reached.size(), 1u);
                                  return absl::UnavailableError("ops tenant unreachable");
                                });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Count("SELECT count(*) FROM attempts"), attempts);
  EXPECT_EQ(Count("SELECT status FROM delivery_view WHERE id = '" + dlv(3) + "'"), v1::PENDING);
  EXPECT_EQ(Count("SELECT failure_streak FROM apps WHERE id = 'app_1'"), 3);

  // 4 of 4: the threshold.
  auto fourth = store_->Record({Failure(dlv(3), "app_1", 5, /*final=*/true)});
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  ASSERT_EQ(fourth->reached.size(), 1u);
  EXPECT_EQ(fourth->reached[0].streak, 4);
  EXPECT_EQ(fourth->exhausted.size(), 1u);
  EXPECT_TRUE(fourth->failing.empty());
}

// A delivery attempted while the retention dropped its day (a month-old one retried): its
// outcome records nothing and the batch still commits; no attempt waits for a partition that
// will never come back.
TEST_F(DeliveryStorePgTest, AnOutcomeOfADroppedDayIsSkipped) {
  const absl::CivilDay old_day = UtcDay(absl::Now()) - 40;
  IdGenerator ids;
  const std::string gone = ids.Next("dlv", absl::FromCivil(old_day, absl::UTCTimeZone()));
  const std::string live = Today("dlv", "live");
  Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + live +
       "', 'evt_1', 'app_1', 'acme', 'video.ready')");
  AddPendingStates();
  Outcome first = Failure(gone, "app_1", 1, /*final=*/true);
  Outcome second = Failure(live, "app_1", 1, /*final=*/true);
  auto recorded = store_->Record({first, second});
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(Count("SELECT count(*) FROM attempts"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM attempts WHERE delivery_id = '" + live + "'"), 1);
  ASSERT_EQ(recorded->exhausted.size(), 1u);
  EXPECT_EQ(recorded->exhausted[0].delivery_id, live);
}

// Half of an odd threshold rounds up: with 3, the second failure in a row is the mark.
TEST_F(DeliveryStorePgTest, HalfOfAnOddThresholdRoundsUp) {
  Exec(
      "INSERT INTO apps (id, tenant, config, secrets, active, version) VALUES"
      " ('app_3', 'acme', '{\"disable_after_failures\":3}', '', true, 1)");
  const std::string day = Today("dlv", "odd");
  Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) SELECT '" + day +
       "' || g, 'evt_' || g, 'app_3', 'acme', 'video.ready' FROM generate_series(1, 3) g");
  AddPendingStates();
  std::vector<size_t> failing, reached;
  for (int n = 1; n <= 3; ++n) {
    auto recorded = store_->Record({Failure(day + std::to_string(n), "app_3", 1, false)});
    ASSERT_TRUE(recorded.ok()) << recorded.status();
    failing.push_back(recorded->failing.size());
    reached.push_back(recorded->reached.size());
  }
  EXPECT_EQ(failing, (std::vector<size_t>{0, 1, 0}));
  EXPECT_EQ(reached, (std::vector<size_t>{0, 0, 1}));
}

}  // namespace
}  // namespace hookd::ledger
