#include "hookd/subscription/retention.h"

#include <functional>
#include <set>
#include <vector>

#include "absl/time/clock.h"
#include "hookd/audit/audit_log.h"
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
    : options_(options),
      task_(std::move(database_url), kRetentionLockKey, [this] { return Tick(); }) {}

Retention::~Retention() { Stop(); }

void Retention::Start() { task_.Start(); }

void Retention::Stop() { task_.Stop(); }

absl::StatusOr<RetentionPass> Retention::RunOnce(absl::Time now) {
  RetentionPass pass;
  HOOKD_ASSIGN_OR_RETURN(pass.leader, task_.WhileLeading([&](pqxx::connection& conn) {
    return Pass(now, conn, pass);
  }));
  return pass;
}

absl::Status Retention::Pass(absl::Time now, pqxx::connection& conn, RetentionPass& pass) {
  // Runs `fn` on the leader's connection. Returns false when a lock or the transactions still
  // reading a partition held it past the lock timeout (counted as deferred, for the next pass).
  auto attempt = [&](const std::function<void(pqxx::connection&)>& fn) -> absl::StatusOr<bool> {
    try {
      fn(conn);
      return true;
    } catch (const pqxx::sql_error& e) {
      // lock_not_available, or query_canceled by the statement_timeout of a detach.
      if (e.sqlstate() == "55P03" || e.sqlstate() == "57014") {
        ++pass.deferred;
        spdlog::warn("retention: {} waited over {}; trying again next pass", e.what(),
                     absl::FormatDuration(options_.lock_timeout));
        return false;
      }
      return db::TranslateCurrentException("retention");
    } catch (...) {
      return db::TranslateCurrentException("retention");
    }
  };
  // `fn` in a transaction of its own, under the lock timeout.
  auto step = [&](const std::function<void(pqxx::work&)>& fn) {
    return attempt([&](pqxx::connection& conn) {
      pqxx::work txn(conn);
      txn.exec("SET LOCAL lock_timeout = " +
               std::to_string(absl::ToInt64Milliseconds(options_.lock_timeout)));
      fn(txn);
      txn.commit();
    });
  };

  const absl::CivilDay today = ledger::UtcDay(now);
  HOOKD_ASSIGN_OR_RETURN(bool created, step([&](pqxx::work& txn) {
                           pass.partitions_created =
                               ledger::EnsureDayPartitions(txn, today, today + options_.days_ahead);
                         }));
  if (created && pass.partitions_created > 0) {
    spdlog::info("retention: created {} partitions, up to {}", pass.partitions_created,
                 absl::FormatCivilTime(today + options_.days_ahead));
  }
  if (options_.max_age > absl::ZeroDuration()) {
    HOOKD_RETURN_IF_ERROR(DropExpiredDays(now, attempt, step, pass));
    int deleted = options_.batch_size;
    while (deleted == options_.batch_size && !task_.stopping()) {
      HOOKD_ASSIGN_OR_RETURN(bool done, step([&](pqxx::work& txn) {
                               deleted = audit::DeleteBefore(txn, now - options_.max_age,
                                                             options_.batch_size);
                             }));
      if (!done) break;
      pass.audit_events += deleted;
    }
  }
  if (pass.partitions_created + pass.delivery_days + pass.event_days > 0) {
    // Autovacuum analyzes partitions, never their parents: the planner's estimates of joins
    // over the whole log come from this, once a day.
    HOOKD_RETURN_IF_ERROR(step([](pqxx::work& txn) {
                            txn.exec("ANALYZE events, deliveries, attempts, delivery_state");
                          }).status());
  }
  return absl::OkStatus();
}

absl::Status Retention::DropExpiredDays(absl::Time now, const Attempt& attempt, const Step& step,
                                        RetentionPass& pass) {
  // Day D ended at the start of D + 1: expired when that is not after the cutoff.
  const absl::CivilDay first_kept = ledger::UtcDay(now - options_.max_age);
  std::set<absl::CivilDay> delivery_days;
  std::vector<absl::CivilDay> event_days;
  HOOKD_RETURN_IF_ERROR(step([&](pqxx::work& txn) {
                          for (const char* table : {"deliveries", "attempts", "delivery_state"}) {
                            for (absl::CivilDay day : ledger::PartitionDays(txn, table)) {
                              delivery_days.insert(day);
                            }
                          }
                          event_days = ledger::PartitionDays(txn, "events");
                        }).status());
  for (const absl::CivilDay day : delivery_days) {
    if (day >= first_kept || task_.stopping()) break;
    HOOKD_ASSIGN_OR_RETURN(
        bool dropped, attempt([&](pqxx::connection& conn) {
          ledger::DropDayPartition(conn, "attempts", day, options_.lock_timeout);
          ledger::DropDayPartition(conn, "delivery_state", day, options_.lock_timeout);
          ledger::DropDayPartition(conn, "deliveries", day, options_.lock_timeout);
        }));
    if (!dropped) return absl::OkStatus();
    ++pass.delivery_days;
  }
  // Events a day longer: their deliveries may be of the next day.
  for (const absl::CivilDay day : event_days) {
    if (day + 1 >= first_kept || task_.stopping()) break;
    ledger::KeysBatch batch{.events = options_.batch_size};
    while (batch.events == options_.batch_size && !task_.stopping()) {
      const std::string after = batch.last_event;
      HOOKD_ASSIGN_OR_RETURN(bool deleted, step([&](pqxx::work& txn) {
                               batch =
                                   ledger::DeleteKeysOfDay(txn, day, after, options_.batch_size);
                             }));
      if (!deleted) return absl::OkStatus();
      pass.idempotency_keys += batch.keys;
      if (batch.events == options_.batch_size && options_.pause > absl::ZeroDuration() &&
          !task_.Wait(options_.pause)) {
        return absl::OkStatus();
      }
    }
    if (task_.stopping()) break;
    HOOKD_ASSIGN_OR_RETURN(bool dropped, attempt([&](pqxx::connection& conn) {
                             ledger::DropDayPartition(conn, "events", day, options_.lock_timeout);
                           }));
    if (!dropped) return absl::OkStatus();
    ++pass.event_days;
  }
  return absl::OkStatus();
}

absl::Duration Retention::Tick() {
  const absl::Time now = options_.clock->Now();
  auto pass = RunOnce(now);
  if (!pass.ok()) {
    spdlog::warn("retention: {}", pass.status().ToString());
  } else if (pass->delivery_days + pass->event_days + pass->audit_events > 0) {
    spdlog::info(
        "retention: dropped {} days of deliveries and {} days of events, {} idempotency "
        "keys and {} audit entries, all from before {}",
        pass->delivery_days, pass->event_days, pass->idempotency_keys, pass->audit_events,
        absl::FormatTime(now - options_.max_age, absl::UTCTimeZone()));
  }
  return options_.interval;
}

}  // namespace hookd::subscription
