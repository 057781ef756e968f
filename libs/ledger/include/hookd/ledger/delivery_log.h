#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/delivery_query.h"
#include "hookd/queue/delivery_queue.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::ledger {

// The delivery log in Postgres. Reads page newest first by id (a ULID), so a page token is the
// last id seen and new deliveries never shift a page.
class DeliveryLog {
 public:
  // `queue` may be null: re-queued deliveries then wait in the outbox for ingest's sweeper.
  DeliveryLog(db::PgPool& db, queue::DeliveryQueue* queue) : db_(db), queue_(queue) {}

  struct Page {
    std::vector<v1::Delivery> deliveries;
    std::string last_id;  // when another page may follow
  };
  absl::StatusOr<Page> List(const DeliveryFilter& filter, int page_size,
                            const std::string& before_id);

  // The delivery with payload and attempts. NOT_FOUND when absent.
  absl::StatusOr<v1::Delivery> Get(const std::string& id);

  // Marks the delivery due now (RETRYING) and queues it, and runs `also` (when set) in the same
  // transaction. NOT_FOUND when absent; an error of `also` changes nothing.
  absl::StatusOr<v1::Delivery> Retry(const std::string& id,
                                     const db::InTransaction& also = nullptr);

  // Re-queues the app's FAILED deliveries created in [since, until) and, with `include_held`,
  // its HELD ones, and runs `also` (when set, given how many) in the same transaction; with
  // `dry_run`, only counts them.
  absl::StatusOr<int> Recover(
      const std::string& app_id, absl::Time since, absl::Time until, bool dry_run,
      bool include_held,
      const std::function<absl::Status(pqxx::work& txn, int count)>& also = nullptr);

  // What EnableApp does with the app's HELD deliveries, oldest first, a batch of 1,000 per
  // transaction: `resume` queues them again (PENDING, or RETRYING when attempted before) through
  // the outbox, or makes them SCHEDULED when their deliver_at or delivery_delay has not come
  // yet; otherwise they become DISCARDED. Returns how many. A batch that fails leaves the
  // rest HELD, and the workers' sweep queues those once the app is active (ClaimLost).
  absl::StatusOr<int64_t> SettleHeld(const std::string& app_id, bool resume);

  // The number of HELD deliveries of every app that has any (along the deliveries_held index).
  static std::map<std::string, int64_t> HeldByApp(pqxx::work& txn);

  // The app's attempts started in [since, until) and its deliveries created then, with its
  // latest attempt and success of any time. failure_streak is left to the caller (it is the
  // app's). UNAVAILABLE when Postgres is down.
  absl::StatusOr<v1::AppStats> Stats(const std::string& app_id, absl::Time since, absl::Time until);

 private:
  db::PgPool& db_;
  queue::DeliveryQueue* queue_;
};

}  // namespace hookd::ledger
