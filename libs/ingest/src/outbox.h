#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/outbox_format.h"

namespace hookd::ingest {

// A committed batch waiting for its XADD.
struct OutboxBatch {
  int64_t outbox_id = 0;
  std::vector<queue::DeliveryMessage> messages;
};

// Puts committed batches on the Redis streams right after commit, off the publish path, then
// deletes their outbox rows. When Redis is down the batch stays in the outbox for the sweeper:
// publishing keeps working, deliveries are only delayed.
class Enqueuer {
 public:
  Enqueuer(db::PgPool& db, queue::DeliveryQueue& queue);
  // Enqueues what is queued (when Redis answers), then stops.
  ~Enqueuer();

  void Push(OutboxBatch batch);

 private:
  void Run();

  db::PgPool& db_;
  queue::DeliveryQueue& queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutboxBatch> batches_;
  bool stopping_ = false;
  std::thread thread_;
};

// Deletes the outbox rows `ids`.
absl::Status DeleteOutboxRows(db::PgPool& db, const std::vector<int64_t>& ids);

struct SweeperOptions {
  // How often the leader looks for forgotten batches.
  absl::Duration interval = absl::Seconds(1);
  // A batch younger than this is left to its enqueuer.
  absl::Duration grace = absl::Seconds(5);
  // Batches per round trip.
  int batch_rows = 100;
};

// Re-enqueues outbox batches that were committed but never enqueued: ingest crashed between
// commit and XADD, or Redis was down. One leader at a time across every ingest replica, chosen
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
  void Run();
  absl::Status EnsureLeadership();

  const std::string database_url_;
  db::PgPool& db_;
  queue::DeliveryQueue& queue_;
  const SweeperOptions options_;
  std::unique_ptr<pqxx::connection> lock_conn_;  // holds the advisory lock while leader
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool leader_ = false;
  std::thread thread_;
};

}  // namespace hookd::ingest
