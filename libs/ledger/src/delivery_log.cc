#include "hookd/ledger/delivery_log.h"

#include <algorithm>

#include "google/protobuf/util/time_util.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/sql.h"
#include "hookd/ledger/outbox.h"
#include "status_sql.h"

namespace hookd::ledger {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kColumns[] =
    "d.id, d.event_id, d.app_id, d.event_type, d.status, d.attempt_count, d.last_status_code,"
    " CASE WHEN d.next_attempt_time = 'infinity' THEN 0"
    " ELSE (extract(epoch FROM d.next_attempt_time) * 1000000)::bigint END,"
    " (extract(epoch FROM d.create_time) * 1000000)::bigint,"
    " (extract(epoch FROM d.update_time) * 1000000)::bigint, d.tenant,"
    " coalesce(a.config->>'url', '')";

v1::Delivery FromRow(const pqxx::row& row) {
  v1::Delivery d;
  d.set_id(row[0].as<std::string>());
  d.set_event_id(row[1].as<std::string>());
  d.set_app_id(row[2].as<std::string>());
  d.set_event_type(row[3].as<std::string>());
  d.set_status(static_cast<v1::DeliveryStatus>(row[4].as<int>()));
  d.set_attempt_count(row[5].as<int>());
  d.set_last_status_code(row[6].as<int>());
  int64_t next = row[7].as<int64_t>();
  // Unset for a delivery a worker held while its app is disabled (never due by itself); one that
  // ingest held shows when it is due once resumed (its publish time, or its deliver_at).
  if (next != 0) *d.mutable_next_attempt_time() = TimeUtil::MicrosecondsToTimestamp(next);
  *d.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(row[8].as<int64_t>());
  *d.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
  d.set_tenant(row[10].as<std::string>());
  d.set_endpoint_url(row[11].as<std::string>());
  return d;
}

// `update` (of delivery_state aliased as d) returning the rows it changed as id,
// event_id, app_id, attempt_count, status: the event id is the delivery's (migration 12), read
// by the ids the update returned.
std::string WithEventIds(const std::string& update) {
  return "WITH u AS (" + update +
         " RETURNING d.id, d.app_id, d.attempt_count, d.status) SELECT u.id, e.event_id, u.app_id,"
         " u.attempt_count, u.status FROM u JOIN deliveries e ON e.id = u.id";
}

}  // namespace

std::string ListDeliveriesQuery(pqxx::transaction_base& txn, const DeliveryFilter& filter,
                                int limit, const std::string& before_id) {
  std::string where = "true";
  auto add = [&](const std::string& condition) { where += " AND " + condition; };
  if (!filter.tenant.empty()) add("d.tenant = " + txn.quote(filter.tenant));
  if (!filter.app_id.empty()) add("d.app_id = " + txn.quote(filter.app_id));
  if (!filter.event_type.empty()) add("d.event_type = " + txn.quote(filter.event_type));
  if (filter.status != v1::DELIVERY_STATUS_UNSPECIFIED) {
    add("d.status = " + Sql(filter.status));
  }
  // Ids are ULIDs: a time range is an id range, answered by the (tenant|app_id, id) indexes.
  if (filter.since) add("d.id >= " + txn.quote(IdLowerBoundAt("dlv", *filter.since)));
  if (filter.until) add("d.id < " + txn.quote(IdLowerBoundAt("dlv", *filter.until)));
  if (!before_id.empty()) add("d.id < " + txn.quote(before_id));
  // Any status but SUCCEEDED has a state row (migration 12): such a page is read along
  // delivery_state's (tenant|app_id, status, id) indexes, its tenant, app and id standing for
  // the delivery's, and each row found looks its delivery up by id (LATERAL ... LIMIT 1 keeps
  // the planner from merge-joining the whole of deliveries' primary key instead). Otherwise
  // along deliveries' own indexes, each row with its state (delivery_view).
  const bool by_state =
      filter.status != v1::DELIVERY_STATUS_UNSPECIFIED && filter.status != v1::SUCCEEDED;
  const std::string source =
      by_state ? "(SELECT s.id, e.event_id, s.app_id, s.tenant, e.event_type, e.create_time,"
                 " s.status, s.attempt_count, s.last_status_code, s.next_attempt_time,"
                 " s.update_time FROM delivery_state s CROSS JOIN LATERAL (SELECT event_id,"
                 " event_type, create_time FROM deliveries WHERE id = s.id LIMIT 1) e) d"
               : "delivery_view d";
  return std::string("SELECT ") + kColumns + " FROM " + source +
         " LEFT JOIN apps a ON a.id = d.app_id WHERE " + where + " ORDER BY d.id DESC LIMIT " +
         std::to_string(limit);
}

void ForPageReads(pqxx::transaction_base& txn) {
  txn.exec("SET LOCAL max_parallel_workers_per_gather = 0");
}

absl::StatusOr<DeliveryLog::Page> DeliveryLog::List(const DeliveryFilter& filter, int page_size,
                                                    const std::string& before_id) {
  Page page;
  HOOKD_RETURN_IF_ERROR(db_.Transact("list deliveries", [&](pqxx::work& txn) {
    ForPageReads(txn);
    // One row more than the page tells whether another page follows.
    pqxx::result rows = txn.exec(ListDeliveriesQuery(txn, filter, page_size + 1, before_id));
    for (const auto& row : rows) {
      if (static_cast<int>(page.deliveries.size()) == page_size) {
        page.last_id = page.deliveries.back().id();
        break;
      }
      page.deliveries.push_back(FromRow(row));
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<v1::Delivery> DeliveryLog::Get(const std::string& id) {
  v1::Delivery delivery;
  HOOKD_RETURN_IF_ERROR(db_.Transact("get delivery", [&](pqxx::work& txn) -> absl::Status {
    pqxx::result rows = txn.exec_params(
        std::string("SELECT ") + kColumns + ", e.payload FROM delivery_view d" +
            " LEFT JOIN apps a ON a.id = d.app_id JOIN events e ON e.id = d.event_id" +
            " WHERE d.id = $1",
        id);
    if (rows.empty()) return absl::NotFoundError("delivery " + id + " not found");
    delivery = FromRow(rows[0]);
    delivery.set_payload(rows[0][12].as<std::string>());
    for (const auto& row : txn.exec_params(
             "SELECT attempt, (extract(epoch FROM start_time) * 1000000)::bigint, duration_ms,"
             " status_code, response_excerpt, error, error_detail, worker FROM attempts"
             " WHERE delivery_id = $1 ORDER BY start_time, attempt",
             id)) {
      v1::Attempt* a = delivery.add_attempts();
      a->set_delivery_id(id);
      a->set_attempt(row[0].as<int>());
      *a->mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(row[1].as<int64_t>());
      *a->mutable_duration() = TimeUtil::MillisecondsToDuration(row[2].as<int64_t>());
      a->set_status_code(row[3].as<int>());
      a->set_response_excerpt(row[4].as<std::string>());
      a->set_error(static_cast<v1::AttemptError>(row[5].as<int>()));
      a->set_error_detail(row[6].as<std::string>());
      a->set_worker(row[7].as<std::string>());
    }
    return absl::OkStatus();
  }));
  return delivery;
}

absl::StatusOr<v1::Delivery> DeliveryLog::Retry(const std::string& id,
                                                const db::InTransaction& also) {
  std::vector<queue::DeliveryMessage> messages;
  int64_t outbox_id = 0;
  HOOKD_RETURN_IF_ERROR(db_.Transact("retry delivery", [&](pqxx::work& txn) -> absl::Status {
    // A succeeded delivery gets its state row back (migration 12).
    pqxx::result rows = txn.exec_params(
        "WITH r AS (INSERT INTO delivery_state AS s (id, app_id, tenant, status, attempt_count,"
        " last_status_code) SELECT id, app_id, tenant, " +
            Sql(v1::RETRYING) +
            ", attempt_count, last_status_code FROM delivery_view WHERE id = $1"
            " ON CONFLICT (id) DO UPDATE SET status = " +
            Sql(v1::RETRYING) +
            ", next_attempt_time = now(), update_time = now()"
            " RETURNING s.id, s.app_id, s.attempt_count)"
            " SELECT r.id, d.event_id, r.app_id, r.attempt_count FROM r"
            " JOIN deliveries d ON d.id = r.id AND d.id = $1",
        id);
    if (rows.empty()) return absl::NotFoundError("delivery " + id + " not found");
    messages.push_back({rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                        rows[0][2].as<std::string>(), rows[0][3].as<int>() + 1});
    outbox_id = WriteOutbox(txn, messages);
    if (also) return also(txn);
    return absl::OkStatus();
  }));
  EnqueueCommitted(db_, queue_, outbox_id, messages);
  return Get(id);
}

absl::StatusOr<int> DeliveryLog::Recover(
    const std::string& app_id, absl::Time since, absl::Time until, bool dry_run, bool include_held,
    const std::function<absl::Status(pqxx::work& txn, int count)>& also) {
  int count = 0;
  std::vector<queue::DeliveryMessage> messages;
  int64_t outbox_id = 0;
  HOOKD_RETURN_IF_ERROR(db_.Transact("recover deliveries", [&](pqxx::work& txn) {
    // FAILED ones, and those HELD while the app was disabled.
    const std::string where =
        "app_id = " + txn.quote(app_id) + " AND id >= " + txn.quote(IdLowerBoundAt("dlv", since)) +
        " AND id < " + txn.quote(IdLowerBoundAt("dlv", until)) + " AND status IN " +
        (include_held ? Sql(std::array{v1::FAILED, v1::HELD}) : Sql(std::array{v1::FAILED}));
    if (dry_run) {
      count = txn.exec1("SELECT count(*) FROM delivery_state WHERE " + where)[0].as<int>();
      return absl::OkStatus();
    }
    pqxx::result rows =
        txn.exec(WithEventIds("UPDATE delivery_state AS d SET status = " + Sql(v1::RETRYING) +
                              ", next_attempt_time = now(), update_time = now()"
                              " WHERE " +
                              where));
    for (const auto& row : rows) {
      messages.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                          row[2].as<std::string>(), row[3].as<int>() + 1});
    }
    count = static_cast<int>(messages.size());
    if (!messages.empty()) outbox_id = WriteOutbox(txn, messages);
    if (also) return also(txn, count);
    return absl::OkStatus();
  }));
  EnqueueCommitted(db_, queue_, outbox_id, messages);
  return count;
}

absl::StatusOr<int64_t> DeliveryLog::SettleHeld(const std::string& app_id, bool resume) {
  constexpr int kBatch = 1000;
  int64_t total = 0;
  for (;;) {
    std::vector<queue::DeliveryMessage> messages;
    int64_t outbox_id = 0;
    int settled = 0;
    HOOKD_RETURN_IF_ERROR(db_.Transact("settle held deliveries", [&](pqxx::work& txn) {
      // A delivery held before its deliver_at or delivery_delay came is SCHEDULED again
      // (ClaimDue queues it at its time); the others are queued now.
      const std::string later = "d.next_attempt_time > now() AND d.next_attempt_time <> 'infinity'";
      const std::string next_status =
          resume ? "CASE WHEN " + later + " THEN " + Sql(v1::SCHEDULED) +
                       " WHEN d.attempt_count = 0 THEN " + Sql(v1::PENDING) + " ELSE " +
                       Sql(v1::RETRYING) + " END"
                 : Sql(v1::DISCARDED);
      pqxx::result rows = db::ExecPrepared(
          txn, resume ? "ledger_resume_held" : "ledger_discard_held",
          WithEventIds("UPDATE delivery_state AS d SET status = " + next_status +
                       ", next_attempt_time = CASE WHEN " + later +
                       " THEN d.next_attempt_time ELSE now() END, update_time = now() FROM ("
                       " SELECT id FROM delivery_state WHERE app_id = $1 AND status = " +
                       Sql(v1::HELD) +
                       " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) AS h WHERE d.id = h.id"),
          app_id, kBatch);
      settled = static_cast<int>(rows.size());
      if (!resume) return absl::OkStatus();
      for (const auto& row : rows) {
        if (row[4].as<int>() == v1::SCHEDULED) continue;  // ClaimDue queues it at its time
        messages.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                            row[2].as<std::string>(), row[3].as<int>() + 1});
      }
      // Oldest first: ids are ULIDs, in publish order.
      std::sort(messages.begin(), messages.end(),
                [](const auto& a, const auto& b) { return a.delivery_id < b.delivery_id; });
      if (!messages.empty()) outbox_id = WriteOutbox(txn, messages);
      return absl::OkStatus();
    }));
    EnqueueCommitted(db_, queue_, outbox_id, messages);
    total += settled;
    if (settled < kBatch) return total;
  }
}

std::map<std::string, int64_t> DeliveryLog::HeldByApp(pqxx::work& txn) {
  std::map<std::string, int64_t> held;
  for (const auto& row : txn.exec("SELECT app_id, count(*) FROM delivery_state WHERE status = " +
                                  Sql(v1::HELD) + " GROUP BY app_id")) {
    held[row[0].as<std::string>()] = row[1].as<int64_t>();
  }
  return held;
}

namespace {

// The deliveries of `app_id` made in [since, until) by status, into `counts`.
void CountDeliveries(pqxx::work& txn, const std::string& app_id, absl::Time since, absl::Time until,
                     v1::DeliveryCounts& counts) {
  // Every delivery of the window, then those with a state row by status: the rest SUCCEEDED
  // (migration 12). Status 0 stands for the total.
  int64_t unsucceeded = 0;
  for (const auto& row : txn.exec_params(
           "SELECT 0, count(*) FROM deliveries WHERE app_id = $1 AND id >= $2 AND id < $3"
           " UNION ALL SELECT status, count(*) FROM delivery_state"
           " WHERE app_id = $1 AND id >= $2 AND id < $3 GROUP BY status",
           app_id, IdLowerBoundAt("dlv", since), IdLowerBoundAt("dlv", until))) {
    const int64_t n = row[1].as<int64_t>();
    if (row[0].as<int>() == v1::DELIVERY_STATUS_UNSPECIFIED) {
      counts.set_succeeded(n);  // less the others, below
      continue;
    }
    unsucceeded += n;
    switch (row[0].as<int>()) {
      case v1::PENDING:
        counts.set_pending(n);
        break;
      case v1::RETRYING:
        counts.set_retrying(n);
        break;
      case v1::FAILED:
        counts.set_failed(n);
        break;
      case v1::HELD:
        counts.set_held(n);
        break;
      case v1::DISCARDED:
        counts.set_discarded(n);
        break;
      case v1::SCHEDULED:
        counts.set_scheduled(n);
        break;
      default:
        break;
    }
  }
  counts.set_succeeded(counts.succeeded() - unsucceeded);
}

}  // namespace

absl::StatusOr<v1::AppStats> DeliveryLog::Stats(const std::string& app_id, absl::Time since,
                                                absl::Time until) {
  v1::AppStats stats;
  stats.set_app_id(app_id);
  *stats.mutable_since() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(since));
  *stats.mutable_until() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(until));
  HOOKD_RETURN_IF_ERROR(db_.Transact("app stats", [&](pqxx::work& txn) {
    // Success is what the worker counts as one: a 2xx (a later answer is a timeout, code 0).
    // The (app_id, start_time) index of migration 5 bounds every query to this app's rows.
    pqxx::row attempts = txn.exec_params1(
        "SELECT count(*), count(*) FILTER (WHERE status_code BETWEEN 200 AND 299),"
        " percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms),"
        " percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms)"
        " FROM attempts WHERE app_id = $1 AND start_time >= $2::timestamptz"
        " AND start_time < $3::timestamptz",
        app_id, db::TimestampLiteral(since), db::TimestampLiteral(until));
    const int64_t total = attempts[0].as<int64_t>();
    const int64_t succeeded = attempts[1].as<int64_t>();
    stats.set_attempts(total);
    stats.set_succeeded_attempts(succeeded);
    stats.set_failed_attempts(total - succeeded);
    stats.set_success_rate(total == 0 ? 0 : static_cast<double>(succeeded) / total);
    if (!attempts[2].is_null()) {
      *stats.mutable_latency_p50() = TimeUtil::MillisecondsToDuration(attempts[2].as<int64_t>());
      *stats.mutable_latency_p99() = TimeUtil::MillisecondsToDuration(attempts[3].as<int64_t>());
    }

    CountDeliveries(txn, app_id, since, until, *stats.mutable_deliveries());

    // Newest first along the index: the latest success is found without reading every
    // failure when the app mostly succeeds.
    pqxx::row latest = txn.exec_params1(
        "SELECT (SELECT (extract(epoch FROM max(start_time)) * 1000000)::bigint FROM attempts"
        " WHERE app_id = $1),"
        " (SELECT (extract(epoch FROM max(start_time)) * 1000000)::bigint FROM attempts"
        " WHERE app_id = $1 AND status_code BETWEEN 200 AND 299)",
        app_id);
    // NULL (never) leaves the field unset.
    if (!latest[0].is_null()) {
      *stats.mutable_last_attempt_time() =
          TimeUtil::MicrosecondsToTimestamp(latest[0].as<int64_t>());
    }
    if (!latest[1].is_null()) {
      *stats.mutable_last_success_time() =
          TimeUtil::MicrosecondsToTimestamp(latest[1].as<int64_t>());
    }
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace hookd::ledger
