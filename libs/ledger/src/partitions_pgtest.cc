// The delivery log's day partitions against a real Postgres: migration 9 moves every row of the
// unpartitioned tables into them (and migration 12 the state of unsucceeded deliveries into
// delivery_state); days are created ahead, listed and dropped; a row of a day
// without a partition is refused.

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/common/ids.h"
#include "hookd/db/migrations.h"
#include "hookd/db/sql.h"
#include "hookd/ledger/partitions.h"
#include "hookd/testing/pg_fixture.h"

namespace hookd::ledger {
namespace {

// YYYYMMDD, as partition names end.
std::string Yyyymmdd(absl::CivilDay day) {
  return absl::StrFormat("%04d%02d%02d", day.year(), day.month(), day.day());
}

std::vector<db::Migration> Before(int version) {
  std::vector<db::Migration> before;
  for (const db::Migration& m : db::BuiltinMigrations()) {
    if (m.version < version) before.push_back(m);
  }
  return before;
}

// Every row of the three tables, in a fixed order, as text: equal before and after the
// migration when every row and every value was kept.
std::string Digest(testing::MigratedDatabase& db, const std::string& table,
                   const std::string& order) {
  std::string digest;
  EXPECT_TRUE(db.pool()
                  .Transact("digest",
                            [&](pqxx::work& txn) {
                              digest = txn.exec1(
                                              "SELECT count(*) || ':' || coalesce(md5("
                                              "string_agg(t::text, '|' ORDER BY " +
                                              order + ")), '') FROM " + table + " t")[0]
                                           .as<std::string>();
                              return absl::OkStatus();
                            })
                  .ok());
  return digest;
}

TEST(DayPartitionsMigration, KeepsEveryRowOfEveryDay) {
  auto db = testing::MigratedDatabase::Create("partitions_migration", 1, Before(9));
  ASSERT_TRUE(db.ok()) << db.status();
  // Rows of three days in the unpartitioned schema: 12 days ago, yesterday just before
  // midnight and today; an attempt each, one key.
  IdGenerator ids;
  const absl::Time now = absl::Now();
  const absl::CivilDay today = UtcDay(now);
  const std::vector<absl::Time> times = {
      now - absl::Hours(24 * 12),
      absl::FromCivil(absl::CivilSecond(today) - 1, absl::UTCTimeZone()), now};
  int n = 0;
  for (const absl::Time t : times) {
    const std::string event = ids.Next("evt", t);
    const std::string delivery = ids.Next("dlv", t);
    ++n;
    (*db)->Exec(
        "INSERT INTO events (id, tenant, event_type, payload, channels, idempotency_key,"
        " traceparent, delivery_count, create_time) VALUES ('" +
        event + "', 'acme', 'video.ready', '{\"n\":" + std::to_string(n) + "}', '[\"eu\"]', 'key-" +
        std::to_string(n) + "', '', 1, '" + db::TimestampLiteral(t) + "')");
    (*db)->Exec(
        "INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status,"
        " attempt_count, last_status_code, next_attempt_time, create_time, update_time)"
        " VALUES ('" +
        delivery + "', '" + event + "', 'app_" + std::to_string(n) + "', 'acme', 'video.ready', " +
        std::to_string(n) + ", 2, 503, 'infinity', '" + db::TimestampLiteral(t) + "', now())");
    (*db)->Exec(
        "INSERT INTO attempts (delivery_id, attempt, app_id, start_time, duration_ms,"
        " status_code, response_excerpt, error, error_detail, worker) VALUES ('" +
        delivery + "', 1, 'app_" + std::to_string(n) + "', '" + db::TimestampLiteral(t) +
        "', 12, 503, 'busy', 2, 'HTTP 503', 'w1')");
  }
  // What never changes of a delivery stays in deliveries; the state of those not succeeded
  // moves to delivery_state (migration 12).
  const std::string kept =
      "(SELECT id, event_id, app_id, tenant, event_type, create_time FROM deliveries)";
  const std::string state_columns =
      "id, status, attempt_count, last_status_code, next_attempt_time, update_time";
  const std::string events = Digest(**db, "events", "id");
  const std::string deliveries = Digest(**db, kept, "id");
  const std::string states =
      Digest(**db, "(SELECT " + state_columns + " FROM deliveries WHERE status <> 2)", "id");
  const std::string attempts = Digest(**db, "attempts", "delivery_id, attempt");
  ASSERT_EQ(events.substr(0, 2), "3:");
  ASSERT_EQ(states.substr(0, 2), "2:");

  ASSERT_TRUE(db::Migrate((*db)->url()).ok());
  EXPECT_EQ(Digest(**db, "events", "id"), events);
  EXPECT_EQ(Digest(**db, kept, "id"), deliveries);
  EXPECT_EQ(Digest(**db, "(SELECT " + state_columns + " FROM delivery_state)", "id"), states);
  EXPECT_EQ(Digest(**db, "attempts", "delivery_id, attempt"), attempts);
  // The succeeded one has no state row: its attempt tells its state.
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM delivery_view WHERE status = 2 AND app_id = "
                          "'app_2' AND attempt_count = 1 AND last_status_code = 503"),
            1);
  // Each row in its day's partition; every day from the oldest to 7 days ahead has one.
  for (size_t i = 0; i < times.size(); ++i) {
    const std::string day = Yyyymmdd(UtcDay(times[i]));
    EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries_p" + day), 1) << day;
    EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM events_p" + day), 1) << day;
    EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM attempts_p" + day), 1) << day;
    EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM delivery_state_p" + day), i == 1 ? 0 : 1) << day;
  }
  std::vector<absl::CivilDay> days;
  ASSERT_TRUE((*db)
                  ->pool()
                  .Transact("days",
                            [&](pqxx::work& txn) {
                              days = PartitionDays(txn, "attempts");
                              return absl::OkStatus();
                            })
                  .ok());
  ASSERT_EQ(days.size(), 12u + 1 + 7);
  EXPECT_EQ(days.front(), UtcDay(times[0]));
  EXPECT_EQ(days.back(), today + 7);
  // The keys and indexes, on every partition: deliveries' primary key and three listing
  // indexes; delivery_state's primary key, the due and scheduled ones and two status lists.
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'deliveries_p" +
                          Yyyymmdd(today + 7) + "'"),
            4);
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'delivery_state_p" +
                          Yyyymmdd(today + 7) + "'"),
            5);
}

TEST(DayPartitions, AreCreatedOnceListedAndDroppedWhole) {
  auto db = testing::MigratedDatabase::Create("partitions", 1);
  ASSERT_TRUE(db.ok()) << db.status();
  const absl::CivilDay today = UtcDay(absl::Now());
  auto run = [&](const std::function<void(pqxx::work&)>& fn) {
    absl::Status status = (*db)->pool().Transact("run", [&](pqxx::work& txn) {
      fn(txn);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
  };
  // The migration made today and the next 7 days.
  int made = -1;
  run([&](pqxx::work& txn) { made = EnsureDayPartitions(txn, today, today + 7); });
  EXPECT_EQ(made, 0);
  run([&](pqxx::work& txn) { made = EnsureDayPartitions(txn, today - 2, today + 8); });
  EXPECT_EQ(made, 3 * 4);  // two days behind and one ahead, four tables each
  std::vector<absl::CivilDay> days;
  run([&](pqxx::work& txn) { days = PartitionDays(txn, "events"); });
  ASSERT_EQ(days.size(), 11u);
  EXPECT_EQ(days.front(), today - 2);

  // A row lands in its day; dropping that day drops it with its table.
  IdGenerator ids;
  const std::string old =
      ids.Next("dlv", absl::FromCivil(today - 2, absl::UTCTimeZone()) + absl::Hours(3));
  (*db)->Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + old +
              "', 'evt_x', 'app_1', 'acme', 'video.ready')");
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries_p" + Yyyymmdd(today - 2) +
                          " WHERE id = '" + old + "'"),
            1);
  {
    pqxx::connection conn((*db)->url());
    DropDayPartition(conn, "deliveries", today - 2, absl::Seconds(1));
    DropDayPartition(conn, "deliveries", today - 2, absl::Seconds(1));  // gone: nothing to do
  }
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries"), 0);
  run([&](pqxx::work& txn) { days = PartitionDays(txn, "deliveries"); });
  EXPECT_EQ(days.front(), today - 1);

  // No day, no row: refused, not kept somewhere retention cannot drop it.
  const std::string orphan = ids.Next("dlv", absl::FromCivil(today - 2, absl::UTCTimeZone()));
  absl::Status refused = (*db)->pool().Transact("insert", [&](pqxx::work& txn) {
    txn.exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" +
             orphan + "', 'evt_x', 'app_1', 'acme', 'video.ready')");
    return absl::OkStatus();
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
}

// The bounds SQL makes (migration 9's hookd_ulid_time) are the ids C++ makes: the last
// millisecond of a day goes to that day, the first of the next to the next.
TEST(DayPartitions, BoundsAreExactToTheMillisecond) {
  auto db = testing::MigratedDatabase::Create("partition_bounds", 1);
  ASSERT_TRUE(db.ok()) << db.status();
  const absl::CivilDay today = UtcDay(absl::Now());
  const absl::Time midnight = absl::FromCivil(today + 1, absl::UTCTimeZone());
  for (const absl::Time t : {midnight - absl::Milliseconds(1), midnight}) {
    std::string sql_prefix;
    ASSERT_TRUE((*db)
                    ->pool()
                    .Transact("prefix",
                              [&](pqxx::work& txn) {
                                sql_prefix =
                                    txn.exec_params1("SELECT hookd_ulid_time($1::timestamptz)",
                                                     db::TimestampLiteral(t))[0]
                                        .as<std::string>();
                                return absl::OkStatus();
                              })
                    .ok());
    EXPECT_EQ("dlv_" + sql_prefix, IdLowerBoundAt("dlv", t).substr(0, 14));
    IdGenerator ids;
    const std::string id = ids.Next("dlv", t);
    (*db)->Exec("INSERT INTO deliveries (id, event_id, app_id, tenant, event_type) VALUES ('" + id +
                "', 'evt_x', 'app_1', 'acme', 'video.ready')");
    EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries_p" + Yyyymmdd(UtcDay(t)) +
                            " WHERE id = '" + id + "'"),
              1)
        << absl::FormatTime(t);
  }
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries_p" + Yyyymmdd(today)), 1);
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries_p" + Yyyymmdd(today + 1)), 1);
}

// A drop cut short after its detach (the transactions that might still read the day outlasted
// the timeout) leaves the table detached or pending: the next call finishes it.
TEST(DayPartitions, AnInterruptedDropIsFinishedByTheNextOne) {
  auto db = testing::MigratedDatabase::Create("partition_drop", 1);
  ASSERT_TRUE(db.ok()) << db.status();
  const absl::CivilDay today = UtcDay(absl::Now());
  const absl::CivilDay day = today + 7;
  (*db)->Exec("ALTER TABLE events DETACH PARTITION events_p" + Yyyymmdd(day));
  pqxx::connection conn((*db)->url());
  DropDayPartition(conn, "events", day, absl::Seconds(1));
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM pg_class WHERE relname = 'events_p" +
                          Yyyymmdd(day) + "'"),
            0);

  // A reader holds the day: the detach gives up on the timeout and a later call finishes.
  pqxx::connection reader_conn((*db)->url());
  pqxx::work reader(reader_conn);
  reader.exec("SELECT count(*) FROM deliveries");
  EXPECT_THROW(DropDayPartition(conn, "deliveries", day, absl::Milliseconds(200)), pqxx::sql_error);
  // Left detach-pending: the next call takes the FINALIZE path.
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM pg_inherits WHERE inhdetachpending AND inhrelid"
                          " = 'deliveries_p" +
                          Yyyymmdd(day) + "'::regclass"),
            1);
  reader.commit();
  DropDayPartition(conn, "deliveries", day, absl::Seconds(1));
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM pg_class WHERE relname = 'deliveries_p" +
                          Yyyymmdd(day) + "'"),
            0);
  EXPECT_EQ((*db)->Scalar("SELECT count(*) FROM deliveries"), 0);  // the parent still works
}

}  // namespace
}  // namespace hookd::ledger
