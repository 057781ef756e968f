#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/event.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::ledger {

// Whether a delivery in `status` is done with: SUCCEEDED, FAILED or DISCARDED. A stream entry of
// such a delivery is a duplicate, and no outcome moves it back.
bool IsFinal(v1::DeliveryStatus status);

// A delivery as the worker loads it, with its event.
struct LoadedDelivery {
  std::string id;
  std::string app_id;
  v1::DeliveryStatus status = v1::DELIVERY_STATUS_UNSPECIFIED;
  int attempt_count = 0;
  EventData event;
};

// What an attempt's row records (hookd-worker fills it from its HTTP result).
struct AttemptResult {
  // 0 when no complete response arrived.
  int status_code = 0;
  std::string body_excerpt;
  v1::AttemptError error = v1::ATTEMPT_ERROR_NONE;
  std::string error_detail;
  absl::Time start_time;
  absl::Duration duration;
};

// What became of one delivery in this worker: an attempt and the delivery's next state.
struct Outcome {
  std::string delivery_id;
  std::string app_id;
  // Its event's, for reporting a delivery that failed for good (Recorded::exhausted).
  std::string event_id;
  std::string event_type;
  // Without an attempt (app missing, or held while disabled) only the state changes.
  bool attempted = true;
  int attempt = 0;  // this attempt's number, 1 for the first
  AttemptResult result;
  v1::DeliveryStatus status = v1::DELIVERY_STATUS_UNSPECIFIED;
  // For RETRYING: when; for a HELD delivery (its app is disabled): absl::InfiniteFuture().
  absl::Time next_attempt_time = absl::InfinitePast();
  // Whether this delivery ends the app's streak of failures (success) or adds to it (FAILED).
  bool counts_success = false;
  bool counts_failure = false;
};

// An app whose streak of consecutive failed deliveries reached a mark with this batch.
struct StreakReached {
  std::string app_id;
  std::string tenant;
  std::string app_name;
  int streak = 0;
  int threshold = 0;          // the app's disable_after_failures
  AttemptResult last_result;  // of the app's last failed delivery in the batch
  std::string last_delivery_id;
};

// A delivery this batch made FAILED after an attempt: its attempts are exhausted (or the
// endpoint answered 410 Gone).
struct Exhausted {
  std::string delivery_id;
  std::string event_id;
  std::string event_type;
  std::string app_id;
  std::string tenant;
  int attempts = 0;
  AttemptResult last_result;
};

// What a batch changed that hookd reports (operational events): found in Record's transaction.
struct Recorded {
  // Apps whose streak reached `disable_after_failures` (active ones): the caller disables them.
  std::vector<StreakReached> reached;
  // Apps whose streak reached half their threshold (rounded up) with this batch, below the
  // threshold itself.
  std::vector<StreakReached> failing;
  std::vector<Exhausted> exhausted;
};

// Postgres access of the worker, batched: one query loads a read's deliveries, one transaction
// records a batch of outcomes.
class DeliveryStore {
 public:
  DeliveryStore(db::PgPool& db, std::string worker_name)
      : db_(db), worker_(std::move(worker_name)) {}

  // The deliveries with these ids that exist, with their events. UNAVAILABLE when Postgres is
  // down.
  absl::StatusOr<std::map<std::string, LoadedDelivery>> Load(const std::vector<std::string>& ids);

  // Runs in Record's transaction with what the batch changed: what must commit with the
  // outcomes or not at all (the operational events reporting them). An error rolls back.
  using AfterRecord = std::function<absl::Status(pqxx::work& txn, const Recorded& recorded)>;

  // In one transaction: the attempts (of deliveries whose day the retention has not dropped),
  // the deliveries' new states (a finished delivery, SUCCEEDED, FAILED or DISCARDED, is never
  // moved back by a late duplicate), the apps' failure streaks, then `after`
  // when set. Returns what changed: the apps whose streak reached a mark, and the deliveries
  // that failed for good (each reported once, even when the batch is recorded again).
  absl::StatusOr<Recorded> Record(const std::vector<Outcome>& outcomes,
                                  const AfterRecord& after = nullptr);

  // Due, unfinished deliveries that made no progress for `grace` (Redis lost their stream entry
  // or retry), and HELD deliveries of apps that are active again but were not resumed (a crash
  // during EnableApp, or an event routed by a cache that had not seen the app enabled yet), at
  // most `limit`, oldest due first; their update_time is set to now so the next sweep skips
  // them.
  struct Lost {
    std::string delivery_id, event_id, app_id;
    int attempt_count = 0;
    // When the next attempt is due; InfinitePast for "now" (HELD deliveries waiting without a
    // time).
    absl::Time next_attempt_time = absl::InfinitePast();
  };
  absl::StatusOr<std::vector<Lost>> ClaimLost(absl::Duration grace, int limit);

  // After Redis lost its data (DeliveryQueue::MarkGeneration): unfinished deliveries, PENDING or
  // RETRYING, last changed before `before` (the moment the loss was seen, on Postgres's clock),
  // whose stream entry or scheduled retry Redis may have held. At most `limit`, earliest due
  // first; their update_time is set to now, so calling again until fewer than `limit` come back
  // claims each once. The caller queues those due and schedules the rest at their
  // next_attempt_time. Deliveries changed since were queued or scheduled again by whoever
  // changed them, after the loss.
  absl::StatusOr<std::vector<Lost>> ClaimChangedBefore(absl::Time before, int limit);

  // Marks the unfinished deliveries among `ids` as making progress (update_time = now), so that
  // ClaimLost leaves them alone: a worker holds them, waiting or running. One statement.
  absl::Status Touch(const std::vector<std::string>& ids);

  // Postgres's clock (the time update_time is written with).
  absl::StatusOr<absl::Time> Now();

  // SCHEDULED deliveries whose time has come, at most `limit`, earliest first: made PENDING for
  // the caller to queue. Should queueing fail, ClaimLost finds them once `grace` passes: a
  // schedule is kept in Postgres, never only in Redis.
  absl::StatusOr<std::vector<Lost>> ClaimDue(int limit);

 private:
  // One try of Record; with `check_exists`, attempts of deliveries whose day is gone are left
  // out.
  absl::Status RecordOnce(const std::vector<Outcome>& outcomes, const AfterRecord& after,
                          bool check_exists, Recorded& recorded);

  db::PgPool& db_;
  const std::string worker_;
};

// An attempt as the log keeps it.
struct LoggedAttempt {
  std::string delivery_id;
  AttemptResult result;
};

// The latest attempt of app `app_id` (along attempts_by_app_time), read in `txn`; nullopt when
// it has none.
std::optional<LoggedAttempt> LatestAttemptOfApp(pqxx::work& txn, const std::string& app_id);

// `text` with invalid UTF-8 and NUL bytes replaced by U+FFFD, so any response body can be
// stored in a text column.
std::string SanitizeUtf8(std::string_view text);

}  // namespace hookd::ledger
