#include "hookd/testing/log_rows.h"

#include "hookd/db/pg_pool.h"
#include "hookd/db/sql.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::testing {

using db::TimestampLiteral;

LoggedEvent InsertEvent(pqxx::transaction_base& txn, IdGenerator& ids, absl::Time time,
                        const std::string& tenant, const std::vector<std::string>& app_ids,
                        const std::string& idempotency_key, const std::string& event_type) {
  LoggedEvent event;
  event.id = ids.Next("evt", time);
  // The day's partitions, which hookd-subscription's retention leader makes for the days ahead
  // only: a test writes rows of any day.
  const std::string day = absl::FormatCivilTime(absl::ToCivilDay(time, absl::UTCTimeZone()));
  txn.exec_params("SELECT hookd_ensure_day_partitions($1::date, $1::date)", day);
  txn.exec_params(
      "INSERT INTO events (id, tenant, event_type, payload, idempotency_key, delivery_count,"
      " create_time) VALUES ($1, $2, $3, '{}', $4, $5, $6::timestamptz)",
      event.id, tenant, event_type, idempotency_key, static_cast<int>(app_ids.size()),
      TimestampLiteral(time));
  for (const std::string& app_id : app_ids) {
    event.delivery_ids.push_back(ids.Next("dlv", time));
    txn.exec_params(
        "WITH d AS (INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, create_time)"
        " VALUES ($1, $2, $3, $4, $5, $6::timestamptz))"
        " INSERT INTO delivery_state (id, app_id, tenant, status, next_attempt_time, update_time)"
        " VALUES ($1, $3, $4, 1, $6::timestamptz, $6::timestamptz)",
        event.delivery_ids.back(), event.id, app_id, tenant, event_type, TimestampLiteral(time));
  }
  return event;
}

void InsertAttempt(pqxx::transaction_base& txn, const std::string& delivery_id, int attempt,
                   const std::string& app_id, absl::Time start, int duration_ms, int status_code) {
  const int error = status_code == 0 ? v1::ATTEMPT_ERROR_TIMEOUT : v1::ATTEMPT_ERROR_NONE;
  txn.exec_params(
      "INSERT INTO attempts (delivery_id, attempt, app_id, start_time, duration_ms, status_code,"
      " error, worker) VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7, 'test-worker')",
      delivery_id, attempt, app_id, TimestampLiteral(start), duration_ms, status_code, error);
}

}  // namespace hookd::testing
