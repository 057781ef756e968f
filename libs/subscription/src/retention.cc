#include "hookd/subscription/retention.h"

#include <functional>
#include <vector>

#include "absl/time/clock.h"
#include "hookd/common/status.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/partitions.h"
#include "spdlog/spdlog.h"

namespace hookd::subscription {
namespace {

// Distinct from the other advisory locks of hookd: "hookd" 04.
constexpr int64_t kRetentionLockKey = 0x686f6f6b6404;

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
  if (options.lock_timeout <= absl::ZeroDuration()) {
    return InvalidField("lock_timeout", "must be positive");
  }
  if (options.days_ahead < 1) return InvalidField("days_ahead", "must be at least 1");
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
  HOOKD_ASSIGN_OR_RETURN(pass.leader, lock_.Acquire());
  if (!pass.leader) return pass;
  // Runs `fn` in a transaction of its own on the leader's connection, under the lock timeout.
  // Returns false when the lock timeout gave it up (counted as deferred, for the next pass).
  auto step = [&](const std::function<void(pqxx::work&)>& fn) -> absl::StatusOr<bool> {
    try {
      pqxx::work txn(*lock_.connection());
      txn.exec("SET LOCAL lock_timeout = " +
               std::to_string(absl::ToInt64Milliseconds(options_.lock_timeout)));
      fn(txn);
      txn.commit();
      return true;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "55P03") {  // lock_not_available: someone holds the table
        ++pass.deferred;
        spdlog::warn("retention: {} waited over {} for a lock; trying again next pass", e.what(),
                     absl::FormatDuration(options_.lock_timeout));
        return false;
      }
      absl::Status status = db::TranslateCurrentException("retention");
      if (status.code() == absl::StatusCode::kUnavailable) lock_.Release();
      return status;
    } catch (...) {
      absl::Status status = db::TranslateCurrentException("retention");
      if (status.code() == absl::StatusCode::kUnavailable) lock_.Release();
      return status;
    }
  };

  const absl::CivilDay today = ledger::UtcDay(now);
  HOOKD_RETURN_IF_ERROR(step([&](pqxx::work& txn) {
                          pass.partitions_created =
                              ledger::EnsureDayPartitions(txn, today, today + options_.days_ahead);
                        }).status());
  if (pass.partitions_created > 0) {
    spdlog::info("retention: created {} partitions, up to {}", pass.partitions_created,
                 absl::FormatCivilTime(today + options_.days_ahead));
  }
  if (options_.max_age == absl::ZeroDuration()) return pass;  // keeps everything

  // Day D ended at the start of D + 1: expired when that is not after the cutoff.
  const absl::CivilDay first_kept = ledger::UtcDay(now - options_.max_age);
  std::vector<absl::CivilDay> delivery_days, event_days;
  HOOKD_RETURN_IF_ERROR(step([&](pqxx::work& txn) {
                          delivery_days = ledger::PartitionDays(txn, "deliveries");
                          event_days = ledger::PartitionDays(txn, "events");
                        }).status());
  for (const absl::CivilDay day : delivery_days) {
    if (day >= first_kept || stopping()) break;
    HOOKD_ASSIGN_OR_RETURN(bool dropped, step([&](pqxx::work& txn) {
                             ledger::DropDayPartition(txn, "attempts", day);
                             ledger::DropDayPartition(txn, "deliveries", day);
                           }));
    if (!dropped) return pass;
    ++pass.delivery_days;
  }
  // Events a day longer: their deliveries may be of the next day.
  for (const absl::CivilDay day : event_days) {
    if (day + 1 >= first_kept || stopping()) break;
    ledger::KeysBatch batch{.events = options_.batch_size};
    while (batch.events == options_.batch_size && !stopping()) {
      const std::string after = batch.last_event;
      HOOKD_RETURN_IF_ERROR(step([&](pqxx::work& txn) {
                              batch = ledger::DeleteKeysOfDay(txn, day, after, options_.batch_size);
                            }).status());
      pass.idempotency_keys += batch.keys;
      if (batch.events == options_.batch_size && options_.pause > absl::ZeroDuration() &&
          !Wait(options_.pause)) {
        return pass;
      }
    }
    if (stopping()) break;
    HOOKD_ASSIGN_OR_RETURN(
        bool dropped, step([&](pqxx::work& txn) { ledger::DropDayPartition(txn, "events", day); }));
    if (!dropped) return pass;
    ++pass.event_days;
  }
  return pass;
}

void Retention::Run() {
  for (;;) {
    const absl::Time now = absl::Now();
    auto pass = RunOnce(now);
    if (!pass.ok()) {
      spdlog::warn("retention: {}", pass.status().ToString());
    } else if (pass->delivery_days + pass->event_days > 0) {
      spdlog::info(
          "retention: dropped {} days of deliveries and {} days of events, and {} idempotency "
          "keys, all from before {}",
          pass->delivery_days, pass->event_days, pass->idempotency_keys,
          absl::FormatTime(now - options_.max_age, absl::UTCTimeZone()));
    }
    if (!Wait(options_.interval)) return;
  }
}

}  // namespace hookd::subscription
