#include "hookd/ledger/partitions.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
       txn.exec_params("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = $1::regclass ORDER BY c.relname",
                       std::string(table))) {
    const std::string name = row[0].as<std::string>();
    int date = 0;
    if (name.size() != prefix.size() + 8 || name.compare(0, prefix.size(), prefix) != 0 ||
        !absl::SimpleAtoi(name.substr(prefix.size()), &date)) {
      continue;  // not one of ours
    }
    days.push_back(absl::CivilDay(date / 10000, date / 100 % 100, date % 100));
  }
  return days;
}

void DropDayPartition(pqxx::work& txn, std::string_view table, absl::CivilDay day) {
  const std::string partition = PartitionName(table, day);
  if (txn.exec_params1("SELECT to_regclass($1) IS NOT NULL", partition)[0].as<bool>()) {
    txn.exec(absl::StrCat("ALTER TABLE ", txn.quote_name(std::string(table)), " DETACH PARTITION ",
                          txn.quote_name(partition)));
    txn.exec(absl::StrCat("DROP TABLE ", txn.quote_name(partition)));
  }
}

KeysBatch DeleteKeysOfDay(pqxx::work& txn, absl::CivilDay day, const std::string& after,
                          int limit) {
  const std::string partition = PartitionName("events", day);
  // Along the partition's primary key: each batch reads on from where the last stopped.
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
