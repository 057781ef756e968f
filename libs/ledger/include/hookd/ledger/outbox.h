#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/leader_task.h"
#include "hookd/db/pg_pool.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/outbox_format.h"

namespace hookd::ledger {

// A committed batch waiting for its XADD.
struct OutboxBatch {
  int64_t outbox_id = 0;
  std::vector<queue::DeliveryMessage> messages;
};

struct EnqueuerOptions {
  // How long the rows of enqueued batches wait for a publish transaction to delete them
  // (TakeEnqueued) before the enqueuer deletes them in a transaction of its own. Well below the
  // sweeper's grace, or it would enqueue them again.
  absl::Duration delete_delay = absl::Milliseconds(200);
};

// Puts committed batches on the Redis streams right after commit, off the publish path; their
// outbox rows are then deleted by the next publish transaction (TakeEnqueued) or, when none
// comes, by the enqueuer. When Redis is down the batch stays in the outbox for the sweeper:
// publishing keeps working, deliveries are only delayed.
class Enqueuer {
 public:
  Enqueuer(db::PgPool& db, queue::DeliveryQueue& queue, EnqueuerOptions options = {});
  // Enqueues what is queued (when Redis answers), deletes the rows of what it enqueued, then
  // stops.
  ~Enqueuer();

  void Push(OutboxBatch batch);

  // The outbox rows whose batches are on the streams and not deleted yet. The caller deletes
  // them in its own transaction, or hands them back with ReturnEnqueued when that fails.
  std::vector<int64_t> TakeEnqueued();
  void ReturnEnqueued(const std::vector<int64_t>& ids);

 private:
  void Run();

  db::PgPool& db_;
  queue::DeliveryQueue& queue_;
  const EnqueuerOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutboxBatch> batches_;
  std::vector<int64_t> enqueued_;  // guarded by mu_
  absl::Time oldest_enqueued_;     // guarded by mu_: when enqueued_ became non-empty
  bool stopping_ = false;
  std::thread thread_;
};

// The transactional outbox protocol (README, "Architecture"): whoever makes deliveries due writes
// their stream messages to the outbox in the same transaction (WriteOutbox); after commit they
// are put on the Redis streams and the row is deleted (Enqueuer for publishing, EnqueueCommitted
// for the rest). A row left behind by a crash or a Redis outage is enqueued by the OutboxSweeper.
// Duplicates are allowed (at least once); losses are not.

// Writes an outbox row for `messages` in `txn`; returns its id.
int64_t WriteOutbox(pqxx::work& txn, const std::vector<queue::DeliveryMessage>& messages);

// After the commit of `outbox_id`: enqueues `messages` at once when `queue` is not null, and
// deletes the row. On failure the row stays for the sweeper (a warning is logged).
void EnqueueCommitted(db::PgPool& db, queue::DeliveryQueue* queue, int64_t outbox_id,
                      const std::vector<queue::DeliveryMessage>& messages);

// Deletes the outbox rows `ids`, in `txn` or in a transaction of its own.
void DeleteOutboxRows(pqxx::work& txn, const std::vector<int64_t>& ids);
absl::Status DeleteOutboxRows(db::PgPool& db, const std::vector<int64_t>& ids);

struct SweeperOptions {
  // How often the leader looks for forgotten batches.
  absl::Duration interval = absl::Seconds(1);
  // A batch younger than this is left to its enqueuer.
  absl::Duration grace = absl::Seconds(5);
  // Batches per round trip.
  int batch_rows = 100;
  // Told how many deliveries each round re-enqueued (a metric of the caller's).
  std::function<void(int)> on_swept;
};

// Re-enqueues outbox batches that were committed but never enqueued: their writer (ingest, or
// the subscription or a worker for operational events and re-queues) crashed between commit and
// XADD, or Redis was down. One leader at a time across every ingest replica, chosen
// by a Postgres advisory lock held on the sweeper's own connection: if the leader dies, its
// connection closes, the lock frees, and another replica takes over.
class OutboxSweeper {
 public:
  OutboxSweeper(std::string database_url, db::PgPool& db, queue::DeliveryQueue& queue,
                SweeperOptions options);
  ~OutboxSweeper();

  void Start();
  void Stop();
  // One round: returns how many deliveries were enqueued, 0 when not the leader.
  absl::StatusOr<int> SweepOnce();

 private:
  // One round of the background task; returns the wait before the next.
  absl::Duration Tick();
  // The leader's round (SweepOnce): every batch old enough, until none is left.
  absl::StatusOr<int> Sweep();

  db::PgPool& db_;
  queue::DeliveryQueue& queue_;
  const SweeperOptions options_;
  // Last: its thread uses the members above.
  db::LeaderTask task_;
};

}  // namespace hookd::ledger
