#include "hookd/ledger/partitions.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "hookd/common/absl_view.h"

namespace hookd::ledger {
namespace {

std::string DayLiteral(absl::CivilDay day) { return absl::FormatCivilTime(day); }  // YYYY-MM-DD

// <table>_pYYYYMMDD.
std::string PartitionName(std::string_view table, absl::CivilDay day) {
  return absl::StrFormat("%s_p%04d%02d%02d", AbslView(table), day.year(), day.month(), day.day());
}

}  // namespace

absl::CivilDay UtcDay(absl::Time time) { return absl::ToCivilDay(time, absl::UTCTimeZone()); }

int EnsureDayPartitions(pqxx::work& txn, absl::CivilDay first, absl::CivilDay last) {
  // One implementation, in SQL: migration 9 makes the first partitions with it too.
  return txn
      .exec_params1("SELECT hookd_ensure_day_partitions($1::date, $2::date)", DayLiteral(first),
                    DayLiteral(last))[0]
      .as<int>();
}

std::vector<absl::CivilDay> PartitionDays(pqxx::work& txn, std::string_view table) {
  std::vector<absl::CivilDay> days;
  const std::string prefix = std::string(table) + "_p";
  for (const auto& row :
       txn.exec_params("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace ="
                       " (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
                       " AND relname LIKE $1 || '%' ORDER BY relname",
                       prefix)) {
    const std::string name = row[0].as<std::string>();
    int date = 0;
    if (name.size() != prefix.size() + 8 || !absl::SimpleAtoi(name.substr(prefix.size()), &date)) {
      continue;  // not one of ours
    }
    days.push_back(absl::CivilDay(date / 10000, date / 100 % 100, date % 100));
  }
  return days;
}

void DropDayPartition(pqxx::connection& conn, std::string_view table, absl::CivilDay day,
                      absl::Duration lock_timeout) {
  const std::string partition = PartitionName(table, day);
  pqxx::nontransaction session(conn);
  session.exec("SET lock_timeout = " + std::to_string(absl::ToInt64Milliseconds(lock_timeout)));
  // DETACH CONCURRENTLY waits for the transactions that may still read the partition; it
  // honours statement_timeout, not lock_timeout, for that.
  session.exec("SET statement_timeout = " +
               std::to_string(absl::ToInt64Milliseconds(lock_timeout)));
  struct Reset {
    pqxx::nontransaction& session;
    ~Reset() {
      try {
        session.exec("RESET lock_timeout");
        session.exec("RESET statement_timeout");
      } catch (...) {
      }
    }
  } reset{session};
  pqxx::result state = session.exec_params(
      "SELECT i.inhdetachpending FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
      " WHERE c.oid = to_regclass($1)",
      partition);
  if (state.empty()) return;  // no such day
  const std::string parent = session.quote_name(std::string(table));
  const std::string child = session.quote_name(partition);
  if (!state[0][0].is_null()) {
    session.exec(absl::StrCat("ALTER TABLE ", parent, " DETACH PARTITION ", child,
                              state[0][0].as<bool>() ? " FINALIZE" : " CONCURRENTLY"));
  }
  session.exec(absl::StrCat("DROP TABLE ", child));
}

KeysBatch DeleteKeysOfDay(pqxx::work& txn, absl::CivilDay day, const std::string& after,
                          int limit) {
  const std::string partition = PartitionName("events", day);
  // Along the partition's events_keyed index (keyed events only, migration 9): each batch reads
  // on from where the last stopped.
  pqxx::row row = txn.exec_params1(
      absl::StrCat("WITH batch AS (SELECT id, tenant, idempotency_key FROM ",
                   txn.quote_name(partition),
                   " WHERE idempotency_key <> '' AND id > $1 ORDER BY id LIMIT $2),"
                   " gone AS (DELETE FROM idempotency_keys k USING batch b"
                   " WHERE k.tenant = b.tenant AND k.key = b.idempotency_key"
                   " AND k.event_id = b.id RETURNING 1)"
                   " SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM gone),"
                   " coalesce((SELECT max(id) FROM batch), '')"),
      after, limit);
  return {.events = row[0].as<int64_t>(),
          .keys = row[1].as<int64_t>(),
          .last_event = row[2].as<std::string>()};
}

}  // namespace hookd::ledger
