#include "hookd/subscription/retention.h"

#include "absl/time/clock.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/expiry.h"
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
  using Statement = ledger::Removed (*)(pqxx::work&, const std::string&, int);
  auto drain = [&](Statement statement, const std::string& bound, int64_t& first,
                   int64_t& second) -> absl::Status {
    while (!stopping()) {
      int64_t removed = 0;
      try {
        pqxx::work txn(*lock_.connection());
        const ledger::Removed batch = statement(txn, bound, options_.batch_size);
        txn.commit();
        removed = batch.rows;
        first += removed;
        second += batch.related;
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
  HOOKD_RETURN_IF_ERROR(drain(ledger::DeleteExpiredDeliveries, IdLowerBoundAt("dlv", cutoff),
                              pass.deliveries, pass.attempts));
  HOOKD_RETURN_IF_ERROR(drain(ledger::DeleteExpiredEvents, IdLowerBoundAt("evt", cutoff),
                              pass.events, pass.idempotency_keys));
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
