#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/common/clock.h"
#include "hookd/db/leader_task.h"
#include "pqxx/pqxx"

namespace hookd::subscription {

struct RetentionOptions {
  // Days whose every event is older than this are dropped whole, with their deliveries,
  // attempts and idempotency keys, whatever the deliveries' status; zero keeps everything.
  absl::Duration max_age = absl::Hours(720);
  // Keyed events read per transaction when their idempotency keys are deleted.
  int batch_size = 5000;
  // Wait after each such batch, so that a large day leaves as a trickle of short transactions.
  absl::Duration pause = absl::Milliseconds(100);
  // Wait between two passes.
  absl::Duration interval = absl::Minutes(10);
  // How long creating or dropping a partition may wait before it is given up until the next
  // pass: for its lock on the parent table (ATTACH), and for the transactions still reading a
  // day being detached (DETACH ... CONCURRENTLY, through its statement timeout), such as a long
  // export.
  absl::Duration lock_timeout = absl::Seconds(1);
  // Days after today that always have their partitions.
  int days_ahead = 7;
  // What "now" is for the background passes (not owned; outlives the retention).
  const Clock* clock = &Clock::Real();
};

// What one pass did.
struct RetentionPass {
  // False when another replica leads: this one did nothing.
  bool leader = false;
  // Partition tables created (four a day: events, deliveries, attempts, delivery_state).
  int partitions_created = 0;
  // Days of deliveries (with their attempts) dropped, and days of events.
  int delivery_days = 0;
  int event_days = 0;
  int64_t idempotency_keys = 0;
  // Audit log entries older than max_age deleted (README "Audit log").
  int64_t audit_events = 0;
  // Creations or drops given up on the lock timeout: the next pass tries again.
  int deferred = 0;
};

// Keeps the delivery log's day partitions (ledger/partitions.h): creates them `days_ahead` days
// ahead, and drops each day whose every row is older than the retention, whole, instead of
// deleting rows (README, "Retention"). One replica at a time does it: the leader of an advisory
// lock, held on the retention's own connection.
class Retention {
 public:
  // INVALID_ARGUMENT naming the setting (retention, retention_batch, ...) when out of range.
  static absl::StatusOr<std::unique_ptr<Retention>> Create(std::string database_url,
                                                           RetentionOptions options);
  // Stops.
  ~Retention();

  // Runs passes in a thread of its own: one at once, then one every `interval`. Run it even when
  // max_age is zero: publishing needs the partitions it creates.
  void Start();
  // Ends the running pass after its current batch and gives up the leadership.
  void Stop();

  // One pass as of `now`: the partitions of today and the next `days_ahead` days that are
  // missing; then, unless max_age is zero, the days of deliveries that ended before now -
  // max_age with their attempts, and the days of events that ended a day before that with the
  // idempotency keys still naming them (a delivery made just after midnight may belong to an
  // event of the day before, and never outlives it), and the audit entries older than max_age, a
  // batch at a time. UNAVAILABLE when Postgres is down; what committed stays done.
  absl::StatusOr<RetentionPass> RunOnce(absl::Time now);

 private:
  Retention(std::string database_url, RetentionOptions options);
  // One pass of the background task; returns the wait before the next.
  absl::Duration Tick();
  // Work on the leader's connection; false when given up on the lock timeout (see RunOnce).
  using Attempt =
      std::function<absl::StatusOr<bool>(const std::function<void(pqxx::connection&)>&)>;
  using Step = std::function<absl::StatusOr<bool>(const std::function<void(pqxx::work&)>&)>;
  // A pass of the leader, on its connection (RunOnce).
  absl::Status Pass(absl::Time now, pqxx::connection& conn, RetentionPass& pass);
  // The drops of a pass (RunOnce, when max_age is set).
  absl::Status DropExpiredDays(absl::Time now, const Attempt& attempt, const Step& step,
                               RetentionPass& pass);
  const RetentionOptions options_;
  // Last: its thread uses the members above.
  db::LeaderTask task_;
};

}  // namespace hookd::subscription
