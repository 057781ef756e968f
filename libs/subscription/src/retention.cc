#include "hookd/subscription/retention.h"

#include "absl/time/clock.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/pg_pool.h"
#include "spdlog/spdlog.h"

namespace hookd::subscription {
namespace {

// Distinct from the other advisory locks of hookd: "hookd" 04.
constexpr int64_t kRetentionLockKey = 0x686f6f6b6404;

// The oldest deliveries before $1, at most $2, with their attempts. Returns the counts removed.
constexpr char kDeleteDeliveries[] =
    "WITH batch AS ("
    " SELECT id FROM deliveries WHERE id < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED),"
    " attempts_gone AS ("
    " DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM batch) RETURNING 1),"
    " deliveries_gone AS ("
    " DELETE FROM deliveries WHERE id IN (SELECT id FROM batch) RETURNING 1)"
    " SELECT (SELECT count(*) FROM deliveries_gone), (SELECT count(*) FROM attempts_gone)";

// The oldest events before $1 without a delivery left, at most $2, with their idempotency keys
// unless a later publish took the key over. Returns the counts removed.
constexpr char kDeleteEvents[] =
    "WITH batch AS ("
    " SELECT id, tenant, idempotency_key FROM events e WHERE id < $1"
    " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)"
    " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED),"
    " keys_gone AS ("
    " DELETE FROM idempotency_keys k USING batch b WHERE b.idempotency_key <> ''"
    " AND k.tenant = b.tenant AND k.key = b.idempotency_key AND k.event_id = b.id RETURNING 1),"
    " events_gone AS ("
    " DELETE FROM events WHERE id IN (SELECT id FROM batch) RETURNING 1)"
    " SELECT (SELECT count(*) FROM events_gone), (SELECT count(*) FROM keys_gone)";

}  // namespace

absl::StatusOr<std::unique_ptr<Retention>> Retention::Create(std::string database_url,
                                                             RetentionOptions options) {
  if (options.max_age < absl::ZeroDuration()) {
    return InvalidField("retention", "must not be negative (0 disables)");
  }
  if (options.batch_size < 1) return InvalidField("retention_batch", "must be at least 1");
  if (options.pause < absl::ZeroDuration()) {
    return InvalidField("retention_pause", "must not be negative");
  }
  if (options.interval <= absl::ZeroDuration()) {
    return InvalidField("retention_interval", "must be positive");
  }
  return std::unique_ptr<Retention>(new Retention(std::move(database_url), options));
}

Retention::Retention(std::string database_url, RetentionOptions options)
    : options_(options), lock_(std::move(database_url), kRetentionLockKey) {}

Retention::~Retention() { Stop(); }

void Retention::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Retention::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  lock_.Release();
}

bool Retention::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool Retention::Wait(absl::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMicroseconds(duration), [this] { return stopping_; });
  return !stopping_;
}

absl::StatusOr<RetentionPass> Retention::RunOnce(absl::Time now) {
  RetentionPass pass;
  if (options_.max_age == absl::ZeroDuration()) return pass;  // disabled: keeps everything
  HOOKD_ASSIGN_OR_RETURN(pass.leader, lock_.Acquire());
  if (!pass.leader) return pass;
  const absl::Time cutoff = now - options_.max_age;
  // Runs `sql` batch after batch until one removes less than a full batch; adds what each
  // removed to `first` and `second`.
  auto drain = [&](const char* sql, const std::string& bound, int64_t& first,
                   int64_t& second) -> absl::Status {
    while (!stopping()) {
      int64_t removed = 0;
      try {
        pqxx::work txn(*lock_.connection());
        pqxx::row row = txn.exec_params1(sql, bound, options_.batch_size);
        txn.commit();
        removed = row[0].as<int64_t>();
        first += removed;
        second += row[1].as<int64_t>();
      } catch (...) {
        absl::Status status = db::TranslateCurrentException("retention");
        if (status.code() == absl::StatusCode::kUnavailable) lock_.Release();
        return status;
      }
      if (removed == 0) return absl::OkStatus();
      ++pass.batches;
      if (removed < options_.batch_size) return absl::OkStatus();
      if (options_.pause > absl::ZeroDuration() && !Wait(options_.pause)) break;
    }
    return absl::OkStatus();
  };
  // Deliveries first: a delivery never outlives its event, which GetDelivery reads with it.
  HOOKD_RETURN_IF_ERROR(
      drain(kDeleteDeliveries, IdLowerBoundAt("dlv", cutoff), pass.deliveries, pass.attempts));
  HOOKD_RETURN_IF_ERROR(
      drain(kDeleteEvents, IdLowerBoundAt("evt", cutoff), pass.events, pass.idempotency_keys));
  return pass;
}

void Retention::Run() {
  for (;;) {
    const absl::Time now = absl::Now();
    auto pass = RunOnce(now);
    if (!pass.ok()) {
      spdlog::warn("retention: {}", pass.status().ToString());
    } else if (pass->batches > 0) {
      spdlog::info(
          "retention: removed {} events, {} deliveries, {} attempts and {} idempotency keys "
          "created before {} in {} batches",
          pass->events, pass->deliveries, pass->attempts, pass->idempotency_keys,
          absl::FormatTime(now - options_.max_age, absl::UTCTimeZone()), pass->batches);
    }
    if (!Wait(options_.interval)) return;
  }
}

}  // namespace hookd::subscription
