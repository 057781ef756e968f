#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/leader_lock.h"

namespace hookd::subscription {

struct RetentionOptions {
  // Events older than this are removed with their deliveries, attempts and idempotency keys,
  // whatever the deliveries' status; zero keeps everything.
  absl::Duration max_age = absl::Hours(720);
  // Deliveries, or events, removed per transaction.
  int batch_size = 5000;
  // Wait after each batch, so that a large backlog leaves as a trickle of short transactions.
  absl::Duration pause = absl::Milliseconds(100);
  // Wait between two passes.
  absl::Duration interval = absl::Minutes(10);
};

// What one pass removed.
struct RetentionPass {
  // False when another replica leads: this one removed nothing.
  bool leader = false;
  int64_t events = 0;
  int64_t deliveries = 0;
  int64_t attempts = 0;
  int64_t idempotency_keys = 0;
  // Transactions that removed something.
  int batches = 0;
};

// Removes what is older than the retention, oldest first, in bounded batches. Ids are ULIDs, so
// "older than" is "id below the bound of the cutoff time" and each batch is a short range scan
// of a primary key; nothing takes a lock that publishing or delivering waits on (rows locked by
// them are skipped until the next pass). One replica at a time does it: the leader of an
// advisory lock, held on the retention's own connection.
class Retention {
 public:
  // INVALID_ARGUMENT naming the setting (retention, retention_batch, ...) when out of range.
  static absl::StatusOr<std::unique_ptr<Retention>> Create(std::string database_url,
                                                           RetentionOptions options);
  // Stops.
  ~Retention();

  // Runs passes in a thread of its own: one at once, then one every `interval`.
  void Start();
  // Ends the running pass after its current batch and gives up the leadership.
  void Stop();

  // One pass as of `now`: deliveries created before now - max_age and their attempts, then the
  // events of before then that have no delivery left and their idempotency keys (those still
  // naming them). UNAVAILABLE when Postgres is down; the rows of committed batches stay removed.
  absl::StatusOr<RetentionPass> RunOnce(absl::Time now);

 private:
  Retention(std::string database_url, RetentionOptions options);
  void Run();
  // Waits `duration` unless stopped first; returns false when stopped.
  bool Wait(absl::Duration duration);
  bool stopping();

  const RetentionOptions options_;
  db::LeaderLock lock_;  // used by one thread at a time: the pass's
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hookd::subscription
