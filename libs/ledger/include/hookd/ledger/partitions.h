#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"

// The delivery log's day partitions (README, "Retention"): events, deliveries, attempts and
// delivery_state are range partitions by the UTC day of their id (a ULID starts with its time;
// attempts and states by their delivery's id), named <table>_pYYYYMMDD. hookd-subscription's
// retention leader keeps them 7 days ahead and drops expired days whole.

namespace hookd::ledger {

// The UTC day of `time`.
absl::CivilDay UtcDay(absl::Time time);

// Creates the partitions of events, deliveries, attempts and delivery_state missing for the UTC
// days from `first` to `last`, each as a table of its own then attached (which, unlike CREATE
// TABLE ... PARTITION OF, does not lock the parent against readers and writers). Returns how
// many tables it made.
int EnsureDayPartitions(pqxx::work& txn, absl::CivilDay first, absl::CivilDay last);

// The days `table` (events, deliveries, attempts or delivery_state) has a partition table for,
// oldest first, attached or not (a drop interrupted after its detach leaves one behind).
std::vector<absl::CivilDay> PartitionDays(pqxx::work& txn, std::string_view table);

// Detaches the partition of `table` for `day` with DETACH ... CONCURRENTLY (or finishes an
// interrupted one with FINALIZE), which never locks the parent against readers and writers,
// then drops it; nothing when there is none. Runs outside a transaction (CONCURRENTLY must) on
// `conn`. Each step waits at most `lock_timeout` for its locks, and for the transactions that
// may still read the partition: past that it throws pqxx::sql_error with SQLSTATE 55P03 or
// 57014, and the next call finishes the job.
void DropDayPartition(pqxx::connection& conn, std::string_view table, absl::CivilDay day,
                      absl::Duration lock_timeout);

// What one batch of DeleteKeysOfDay did.
struct KeysBatch {
  int64_t events = 0;           // keyed events read (fewer than the limit: the day is done)
  int64_t keys = 0;             // idempotency keys deleted
  std::string last_event = {};  // where the next batch starts
};

// Deletes the idempotency keys that still name events of `day` with an id above `after`, of at
// most `limit` keyed events in id order (before the day's events are dropped).
KeysBatch DeleteKeysOfDay(pqxx::work& txn, absl::CivilDay day, const std::string& after, int limit);

}  // namespace hookd::ledger
