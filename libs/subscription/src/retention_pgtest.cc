// The retention against a real Postgres: days of long ago are dropped whole, with everything
// that belongs to them; younger days stay, even in part older than the retention; the days
// ahead get their partitions; one replica at a time does it.

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/db/migrations.h"
#include "hookd/subscription/retention.h"
#include "hookd/subscription/server.h"
#include "hookd/testing/fake_clock.h"
#include "hookd/testing/log_rows.h"
#include "hookd/testing/test_database.h"
#include "hookd/testing/testing.h"
#include "pqxx/pqxx"

namespace hookd::subscription {
namespace {

using testing::InsertAttempt;
using testing::InsertEvent;
using testing::LoggedEvent;

// The ids left in `table`.
std::set<std::string> Ids(const std::string& url, const std::string& table,
                          const std::string& column = "id") {
  pqxx::connection conn(url);
  pqxx::read_transaction txn(conn);
  std::set<std::string> ids;
  for (const auto& row : txn.exec("SELECT " + column + " FROM " + table)) {
    ids.insert(row[0].as<std::string>());
  }
  return ids;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create("retention");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(db::Migrate(db_->url()).ok());
  }

  // Small batches and no pause: a pass then needs several transactions, at once.
  RetentionOptions Options() {
    RetentionOptions options;
    options.max_age = absl::Hours(24 * 30);
    options.batch_size = 2;
    options.pause = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<Retention> NewRetention() {
    auto retention = Retention::Create(db_->url(), Options());
    EXPECT_TRUE(retention.ok()) << retention.status();
    return retention.ok() ? std::move(*retention) : nullptr;
  }

  // Runs `fn` in one transaction of its own.
  void Write(const std::function<void(pqxx::work&)>& fn) {
    pqxx::connection conn(db_->url());
    pqxx::work txn(conn);
    fn(txn);
    txn.commit();
  }

  std::unique_ptr<testing::TestDatabase> db_;
  IdGenerator ids_;
};

// Noon (UTC) today: a pass "now" whose cutoff falls at noon 30 days ago.
absl::Time NoonToday() {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::FromCivil(absl::CivilSecond(today.year(), today.month(), today.day(), 12, 0, 0),
                         absl::UTCTimeZone());
}

absl::Time At(absl::CivilDay day, int hour) {
  return absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), hour, 0, 0),
                         absl::UTCTimeZone());
}

TEST_F(RetentionTest, OnePassDropsOnlyWholeExpiredDays) {
  const absl::Time now = NoonToday();
  // The cutoff is noon of day X: days before X have expired whole; X itself has not.
  const absl::CivilDay x = absl::ToCivilDay(now - absl::Hours(24 * 30), absl::UTCTimeZone());
  LoggedEvent five_before, two_before, day_before, same_day, recent;
  Write([&](pqxx::work& txn) {
    // Five days before X: a fan-out of two with attempts.
    five_before = InsertEvent(txn, ids_, At(x - 5, 10), "acme", {"app_a", "app_b"});
    InsertAttempt(txn, five_before.delivery_ids[0], 1, "app_a", At(x - 5, 10), 10, 500);
    InsertAttempt(txn, five_before.delivery_ids[1], 1, "app_b", At(x - 5, 10), 10, 200);
    // Two days before X, with two keys: k-old names it still, k-reused a recent event now.
    two_before = InsertEvent(txn, ids_, At(x - 2, 23), "acme", {"app_a"}, "k-old");
    InsertEvent(txn, ids_, At(x - 2, 23) + absl::Minutes(1), "acme", {}, "k-reused");
    // The day before X: its deliveries go, its event stays a day longer.
    day_before = InsertEvent(txn, ids_, At(x - 1, 8), "acme", {"app_a"});
    // Day X, before the cutoff: older than the retention, but its day has not ended.
    same_day = InsertEvent(txn, ids_, At(x, 6), "acme", {"app_a"});
    InsertAttempt(txn, same_day.delivery_ids[0], 1, "app_a", At(x, 6), 10, 200);
    recent = InsertEvent(txn, ids_, now - absl::Hours(24), "acme", {"app_a"}, "k-reused");
    for (const auto& [key, event] : std::vector<std::pair<std::string, std::string>>{
             {"k-old", two_before.id}, {"k-reused", recent.id}}) {
      txn.exec_params(
          "INSERT INTO idempotency_keys (tenant, key, event_id) VALUES ('acme', $1, $2)", key,
          event);
    }
    // Audit entries: three older than the retention (two batches), one just younger. A generator
    // of their own, which never goes back in time.
    IdGenerator audit_ids;
    for (absl::Time time :
         {At(x - 5, 10), At(x - 1, 8), now - absl::Hours(24 * 30) - absl::Minutes(1),
          now - absl::Hours(24 * 30) + absl::Minutes(1)}) {
      txn.exec_params(
          "INSERT INTO audit_events (id, token_id, role, action, resource, tenant, request_id)"
          " VALUES ($1, 'bootstrap', 1, 'app.delete', 'app_a', 'acme', 'req')",
          audit_ids.Next("aud", time));
    }
  });

  auto retention = NewRetention();
  ASSERT_NE(retention, nullptr);
  auto pass = retention->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);
  EXPECT_EQ(pass->delivery_days, 3);     // x-5, x-2, x-1
  EXPECT_EQ(pass->event_days, 2);        // x-5, x-2
  EXPECT_EQ(pass->idempotency_keys, 1);  // k-old; k-reused names a recent event
  EXPECT_EQ(pass->audit_events, 3);
  EXPECT_EQ(pass->deferred, 0);
  EXPECT_EQ(Ids(db_->url(), "audit_events").size(), 1u);

  std::set<std::string> kept_deliveries;
  for (const LoggedEvent* e : {&same_day, &recent}) {
    kept_deliveries.insert(e->delivery_ids.begin(), e->delivery_ids.end());
  }
  EXPECT_EQ(Ids(db_->url(), "events"),
            (std::set<std::string>{day_before.id, same_day.id, recent.id}));
  EXPECT_EQ(Ids(db_->url(), "deliveries"), kept_deliveries);
  // Their states (all pending) went with their days, whatever their status.
  EXPECT_EQ(Ids(db_->url(), "delivery_state"), kept_deliveries);
  EXPECT_EQ(Ids(db_->url(), "attempts", "delivery_id"),
            std::set<std::string>{same_day.delivery_ids[0]});
  EXPECT_EQ(Ids(db_->url(), "idempotency_keys", "key"), std::set<std::string>{"k-reused"});
  // Whole tables went, none is left empty behind.
  EXPECT_EQ(Ids(db_->url(),
                "pg_tables WHERE tablename LIKE 'deliveries_p%' AND tablename <= "
                "'deliveries_p" +
                    absl::FormatTime("%Y%m%d", At(x, 0), absl::UTCTimeZone()) + "'",
                "tablename"),
            std::set<std::string>{"deliveries_p" +
                                  absl::FormatTime("%Y%m%d", At(x, 0), absl::UTCTimeZone())});

  // Nothing more is due; the next day's pass takes the event of x-1.
  pass = retention->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->delivery_days + pass->event_days, 0);
  pass = retention->RunOnce(now + absl::Hours(24));
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->delivery_days, 1);  // x
  EXPECT_EQ(pass->event_days, 1);     // x-1
  EXPECT_EQ(Ids(db_->url(), "events"), (std::set<std::string>{same_day.id, recent.id}));
}

// A drop waits for a long reader (an export) no longer than the lock timeout, and never locks
// publishing out meanwhile: given up, it is finished by the next pass.
// The background passes take "now" from the retention's clock: 40 days on, today has expired.
TEST_F(RetentionTest, TheBackgroundPassesGoByItsClock) {
  LoggedEvent today;
  Write([&](pqxx::work& txn) {
    today = InsertEvent(txn, ids_, NoonToday(), "acme", {"app_a"});
    InsertAttempt(txn, today.delivery_ids[0], 1, "app_a", NoonToday(), 10, 200);
  });
  testing::FakeClock clock(NoonToday() + absl::Hours(24 * 40));
  RetentionOptions options = Options();
  options.clock = &clock;
  auto retention = Retention::Create(db_->url(), options);
  ASSERT_TRUE(retention.ok()) << retention.status();
  (*retention)->Start();
  EXPECT_TRUE(testing::PollUntil([&] {
    return Ids(db_->url(), "events").empty() && Ids(db_->url(), "deliveries").empty() &&
           Ids(db_->url(), "attempts", "delivery_id").empty();
  })) << "today's rows outlived a clock 40 days on";
  (*retention)->Stop();
}

TEST_F(RetentionTest, ADropBlockedByALongReaderWaitsForTheNextPass) {
  const absl::Time now = NoonToday();
  const absl::Time old_time = now - absl::Hours(24 * 40);
  LoggedEvent old;
  Write([&](pqxx::work& txn) { old = InsertEvent(txn, ids_, old_time, "acme", {"app_a"}); });
  pqxx::connection reader_conn(db_->url());
  pqxx::work reader(reader_conn);
  reader.exec("SELECT count(*) FROM deliveries");  // holds ACCESS SHARE until it ends

  RetentionOptions options = Options();
  options.lock_timeout = absl::Seconds(2);
  auto retention = Retention::Create(db_->url(), options);
  ASSERT_TRUE(retention.ok()) << retention.status();
  const absl::Time started = absl::Now();
  absl::StatusOr<RetentionPass> pass;
  std::thread pass_thread([&] { pass = (*retention)->RunOnce(now); });
  // While the detach waits for the reader, publishing goes on: the parent is not locked
  // against it (DETACH ... CONCURRENTLY).
  // The detach of this database (the server is shared by the tests ctest runs at once) waits.
  // EXPECT, not ASSERT: the pass's thread is joined below whatever happens.
  EXPECT_TRUE(testing::PollUntil([&] {
    pqxx::connection conn(db_->url());
    pqxx::read_transaction txn(conn);
    return txn.exec1(
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND wait_event_type = 'Lock' AND query LIKE '%DETACH PARTITION%'")[0]
               .as<int>() > 0;
  }));
  LoggedEvent published;
  Write([&](pqxx::work& txn) {
    txn.exec("SET LOCAL lock_timeout = 100");
    published = InsertEvent(txn, ids_, absl::Now(), "acme", {"app_b"});
  });
  pass_thread.join();
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  EXPECT_EQ(pass->deferred, 1);
  EXPECT_EQ(pass->delivery_days, 0);
  // The day is left detached (pending): no longer read, dropped by the next pass.
  EXPECT_EQ(Ids(db_->url(), "deliveries"),
            std::set<std::string>(published.delivery_ids.begin(), published.delivery_ids.end()));

  reader.commit();
  pass = (*retention)->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->deferred, 0);
  EXPECT_EQ(pass->delivery_days, 1);
  EXPECT_EQ(pass->event_days, 1);
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{published.id});
  EXPECT_EQ(Ids(db_->url(),
                "pg_tables WHERE tablename LIKE 'deliveries_p" +
                    absl::FormatTime("%Y%m%d", old_time, absl::UTCTimeZone()) + "'",
                "tablename"),
            std::set<std::string>());
}

TEST_F(RetentionTest, OnlyOneReplicaLeadsUntilTheLeaderStops) {
  const absl::Time now = absl::Now();
  auto first = NewRetention();
  auto second = NewRetention();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  auto pass = first->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);

  // While the first keeps the leadership the second removes nothing, even what is due.
  LoggedEvent old;
  Write([&](pqxx::work& txn) {
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 33), "acme", {"app_a"});
  });
  pass = second->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_FALSE(pass->leader);
  EXPECT_EQ(pass->delivery_days + pass->event_days, 0);
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{old.id});

  // A stopped leader frees the lock; the next replica to try takes over.
  first->Stop();
  pass = second->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->leader);
  EXPECT_EQ(pass->delivery_days, 1);
  EXPECT_EQ(pass->event_days, 1);
  EXPECT_TRUE(Ids(db_->url(), "events").empty());
  pass = first->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_FALSE(pass->leader);
}

TEST_F(RetentionTest, ZeroKeepsEverythingAndBadSettingsAreNamed) {
  RetentionOptions options = Options();
  options.max_age = absl::ZeroDuration();
  auto disabled = Retention::Create(db_->url(), options);
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  const absl::Time now = absl::Now();
  LoggedEvent old;
  Write([&](pqxx::work& txn) {
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 365), "acme", {"app_a"});
  });
  // Without removing anything, the pass still keeps the days ahead partitioned.
  const std::string ahead =
      "deliveries_p" + absl::FormatTime("%Y%m%d", now + absl::Hours(24 * 3), absl::UTCTimeZone());
  Write([&](pqxx::work& txn) {
    txn.exec("ALTER TABLE attempts DETACH PARTITION attempts" + ahead.substr(10));
    txn.exec("DROP TABLE attempts" + ahead.substr(10));
  });
  auto pass = (*disabled)->RunOnce(now);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->delivery_days + pass->event_days, 0);
  EXPECT_EQ(pass->partitions_created, 1);
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{old.id});

  struct Case {
    std::function<void(RetentionOptions&)> change;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {[](RetentionOptions& o) { o.max_age = -absl::Hours(1); }, "retention"},
           {[](RetentionOptions& o) { o.batch_size = 0; }, "retention_batch"},
           {[](RetentionOptions& o) { o.pause = -absl::Seconds(1); }, "retention_pause"},
           {[](RetentionOptions& o) { o.interval = absl::ZeroDuration(); }, "retention_interval"},
           {[](RetentionOptions& o) { o.lock_timeout = absl::ZeroDuration(); }, "lock_timeout"},
           {[](RetentionOptions& o) { o.days_ahead = 0; }, "days_ahead"},
       }) {
    RetentionOptions bad = Options();
    c.change(bad);
    auto created = Retention::Create(db_->url(), bad);
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(created.status().message().substr(0, c.field.size() + 1), c.field + ":")
        << created.status();
  }
}

TEST_F(RetentionTest, TheServerRemovesOldRowsOnItsOwn) {
  const absl::Time now = absl::Now();
  LoggedEvent old, recent;
  Write([&](pqxx::work& txn) {
    // 32 days: its events' day is kept a day longer than its deliveries'.
    old = InsertEvent(txn, ids_, now - absl::Hours(24 * 32), "acme", {"app_a", "app_b"});
    recent = InsertEvent(txn, ids_, now - absl::Hours(1), "acme", {"app_a"});
  });
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.postgres.url = db_->url();
  options.admin_token = testing::kTestAdminToken;
  options.master_key = testing::kTestMasterKey;
  options.postgres.pool_size = 1;
  options.retention = Options();
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(testing::PollUntil([&] { return Ids(db_->url(), "events").size() == 1; }));
  EXPECT_EQ(Ids(db_->url(), "events"), std::set<std::string>{recent.id});
  EXPECT_EQ(Ids(db_->url(), "deliveries"),
            std::set<std::string>(recent.delivery_ids.begin(), recent.delivery_ids.end()));
}

}  // namespace
}  // namespace hookd::subscription
