#include "hookd/db/pg_pool.h"

#include <string>

#include "absl/strings/cord.h"
#include "hookd/common/config.h"
#include "hookd/common/logging.h"
#include "hookd/common/status.h"
#include "spdlog/spdlog.h"

namespace hookd::db {
namespace {

// The payload that marks IsMissingPartition's statuses.
constexpr char kMissingPartition[] = "type.hookd.dev/missing-partition";

}  // namespace

bool IsMissingPartition(const absl::Status& status) {
  return status.GetPayload(kMissingPartition).has_value();
}

absl::Status TranslateCurrentException(std::string_view what) {
  try {
    throw;
  } catch (const pqxx::unique_violation& e) {
    return absl::AlreadyExistsError(std::string(what) + ": already exists");
  } catch (const pqxx::foreign_key_violation& e) {
    return absl::FailedPreconditionError(std::string(what) + ": referenced row missing");
  } catch (const pqxx::check_violation& e) {
    // hookd's schema has no CHECK constraint: SQLSTATE 23514 is the partition router refusing a
    // row of a day the delivery log has no partition for (its message is localized, its code
    // not). hookd-subscription's retention leader creates the days ahead, so it has been down
    // that long. Refused, never kept where retention cannot drop it; the leader's next pass
    // creates the day.
    spdlog::error("{}: {}", what, e.what());
    absl::Status status = absl::UnavailableError(
        std::string(what) +
        ": the delivery log has no partition for this day yet (hookd-subscription creates them "
        "ahead; is it running?)");
    status.SetPayload(kMissingPartition, absl::Cord());
    return status;
  } catch (const pqxx::transaction_rollback& e) {
    return absl::AbortedError(std::string(what) + ": transaction rolled back, retry");
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnavailableError(std::string(what) + ": commit outcome unknown");
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string(what) + ": postgres unavailable");
  } catch (const pqxx::sql_error& e) {
    // The server's message can quote stored data and name tables; it goes to the log (never
    // e.query(), whose parameters could hold secrets), the caller gets the SQLSTATE alone.
    const std::string state = e.sqlstate();
    Log(spdlog::level::err, "database error",
        {{"operation", what}, {"sqlstate", state}, {"error", e.what()}});
    // Class 22 (data exception: a value out of range, not representable, not encodable) and 54
    // (program limit: nested too deep, too complex) are the request's values that Postgres
    // cannot take; validation refuses the known ones with the field's name first.
    if (state.rfind("22", 0) == 0 || state.rfind("54", 0) == 0) {
      return absl::InvalidArgumentError(
          std::string(what) + ": a value the database cannot store (SQLSTATE " + state + ")");
    }
    return absl::InternalError(std::string(what) + ": database error (SQLSTATE " + state +
                               "; the service log has the detail)");
  } catch (const std::exception& e) {
    Log(spdlog::level::err, "internal error", {{"operation", what}, {"error", e.what()}});
    return absl::InternalError(std::string(what) +
                               ": internal error (the service log has the detail)");
  } catch (...) {
    return absl::InternalError(std::string(what) + ": unknown error");
  }
}

absl::Status ValidatePgOptions(const PgOptions& options) {
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.url, "database_url", "HOOKD_DATABASE_URL"));
  if (options.pool_size < 1) return InvalidField("database_pool_size", "must be at least 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Create(const PgOptions& options) {
  HOOKD_RETURN_IF_ERROR(ValidatePgOptions(options));
  std::unique_ptr<PgPool> pool(new PgPool(options.url, options.pool_size));
  // Fail fast at startup rather than on the first request.
  HOOKD_RETURN_IF_ERROR(pool->Run("connect", [](pqxx::connection&) { return absl::OkStatus(); }));
  return pool;
}

std::unique_ptr<pqxx::connection> PgPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !idle_.empty() || outstanding_ < size_; });
  ++outstanding_;
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }
  return nullptr;  // the caller opens a new one outside the lock
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --outstanding_;
    if (conn != nullptr && conn->is_open()) idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

absl::Status PgPool::Run(std::string_view what,
                         const std::function<absl::Status(pqxx::connection&)>& fn) {
  std::unique_ptr<pqxx::connection> conn = Acquire();
  absl::Status status;
  try {
    if (conn == nullptr) {
      conn = std::make_unique<pqxx::connection>(url_);
      // hookd's tables start empty and grow by thousands of rows a second. A cached generic
      // plan is made once, from the statistics of that moment (an empty table: a sequential
      // scan looks cheapest), and kept until the next autoanalyze: on a fresh database the
      // worker's batch UPDATE by id then scanned the whole deliveries table for a minute
      // (2,800 instead of 4,500 deliveries/s). Planning each execution costs far less.
      conn->set_variable("plan_cache_mode", "force_custom_plan");
    }
    status = fn(*conn);
  } catch (const pqxx::broken_connection&) {
    status = TranslateCurrentException(what);
    conn.reset();
  } catch (const pqxx::in_doubt_error&) {
    status = TranslateCurrentException(what);
    conn.reset();
  } catch (...) {
    // A refused statement leaves the connection usable, even when the answer is UNAVAILABLE
    // (a day without a partition).
    status = TranslateCurrentException(what);
  }
  Release(std::move(conn));
  return status;
}

absl::Status PgPool::Transact(std::string_view what,
                              const std::function<absl::Status(pqxx::work&)>& fn) {
  return Run(what, [&](pqxx::connection& conn) -> absl::Status {
    pqxx::work txn(conn);
    HOOKD_RETURN_IF_ERROR(fn(txn));  // leaving without commit rolls back
    txn.commit();
    return absl::OkStatus();
  });
}

}  // namespace hookd::db
