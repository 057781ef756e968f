#include "hookd/ledger/delivery_store.h"

#include <algorithm>

#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/sql.h"
#include "status_sql.h"

namespace hookd::ledger {
std::string SanitizeUtf8(std::string_view text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int length = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool valid = length > 0 && i + length <= text.size() && c != 0;
    for (int k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (valid && length > 1) {
      // Overlong forms and surrogates are invalid in Postgres' UTF-8 too.
      uint32_t cp = length == 2 ? (c & 0x1F) : length == 3 ? (c & 0x0F) : (c & 0x07);
      for (int k = 1; k < length; ++k) cp = (cp << 6) | (text[i + k] & 0x3F);
      valid = !(length == 2 && cp < 0x80) && !(length == 3 && cp < 0x800) &&
              !(length == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append(kReplacement);
      i += 1;
    }
  }
  return out;
}

bool IsFinal(v1::DeliveryStatus status) {
  return std::find(kFinished.begin(), kFinished.end(), status) != kFinished.end();
}

absl::StatusOr<std::map<std::string, LoadedDelivery>> DeliveryStore::Load(
    const std::vector<std::string>& ids) {
  std::map<std::string, LoadedDelivery> loaded;
  if (ids.empty()) return loaded;
  // The events' id range, so that the planner reads only their days (migration 9): an event's
  // id is made before its deliveries', moments before; a day of margin covers any clock step.
  absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
  for (const std::string& id : ids) {
    const absl::Time t = IdTime(id).value_or(absl::UnixEpoch());
    first = std::min(first, t);
    last = std::max(last, t);
  }
  const std::pair<std::string, std::string> range = {
      IdLowerBoundAt("evt", first - absl::Hours(24)),
      IdLowerBoundAt("evt", last + absl::Milliseconds(1))};
  HOOKD_RETURN_IF_ERROR(db_.Transact("load deliveries", [&](pqxx::work& txn) {
    pqxx::result rows =
        db::ExecPrepared(txn, "worker_load",
                         // Without a state row a delivery SUCCEEDED (migration 12).
                         "SELECT d.id, d.app_id, coalesce(s.status, " + Sql(v1::SUCCEEDED) +
                             "), coalesce(s.attempt_count, 0), e.id, e.event_type, e.payload,"
                             " (extract(epoch FROM e.create_time) * 1000000)::bigint, e.traceparent"
                             " FROM deliveries d JOIN events e ON e.id = d.event_id"
                             " LEFT JOIN delivery_state s ON s.id = d.id AND s.id = ANY($1::text[])"
                             " WHERE d.id = ANY($1::text[]) AND e.id >= $2 AND e.id < $3",
                         db::ArrayLiteral(ids), range.first, range.second);
    for (const auto& row : rows) {
      LoadedDelivery d;
      d.id = row[0].as<std::string>();
      d.app_id = row[1].as<std::string>();
      d.status = static_cast<v1::DeliveryStatus>(row[2].as<int>());
      d.attempt_count = row[3].as<int>();
      d.event.id = row[4].as<std::string>();
      d.event.event_type = row[5].as<std::string>();
      d.event.payload = row[6].as<std::string>();
      d.event.create_time = absl::FromUnixMicros(row[7].as<int64_t>());
      d.event.traceparent = row[8].as<std::string>();
      loaded.emplace(d.id, std::move(d));
    }
    return absl::OkStatus();
  }));
  return loaded;
}

absl::StatusOr<Recorded> DeliveryStore::Record(const std::vector<Outcome>& outcomes,
                                               const AfterRecord& after) {
  Recorded recorded;
  if (outcomes.empty()) return recorded;
  // The retention may have dropped a delivery's day while it was being attempted (a month-old
  // one retried): its attempt has no partition to go to, and the whole batch is refused. Only
  // then is the batch recorded again with the attempts of deliveries that still exist: checking
  // that on every batch cost a probe per attempt and replanning, 0.7 ms of 1.6 for 128 attempts.
  for (const bool check_exists : {false, true}) {
    absl::Status status = RecordOnce(outcomes, after, check_exists, recorded);
    if (!check_exists && db::IsMissingPartition(status)) continue;
    HOOKD_RETURN_IF_ERROR(status);
    break;
  }
  return recorded;
}

namespace {

// The attempts of a batch of outcomes, as parallel arrays of one statement. With `check_exists`
// an attempt whose delivery is gone (its day dropped) is left out (see Record).
void InsertAttempts(pqxx::work& txn, const std::vector<Outcome>& outcomes, bool check_exists,
                    const std::string& worker) {
  std::vector<std::string> a_ids, a_numbers, a_apps, a_starts, a_durations, a_codes, a_excerpts,
      a_errors, a_details;
  for (const Outcome& o : outcomes) {
    if (!o.attempted) continue;
    a_ids.push_back(o.delivery_id);
    a_numbers.push_back(std::to_string(o.attempt));
    a_apps.push_back(o.app_id);
    a_starts.push_back(db::TimestampLiteral(o.result.start_time));
    a_durations.push_back(std::to_string(absl::ToInt64Milliseconds(o.result.duration)));
    a_codes.push_back(std::to_string(o.result.status_code));
    a_excerpts.push_back(SanitizeUtf8(o.result.body_excerpt));
    a_errors.push_back(std::to_string(static_cast<int>(o.result.error)));
    a_details.push_back(SanitizeUtf8(o.result.error_detail));
  }
  if (!a_ids.empty()) {
    db::ExecPrepared(
        txn, check_exists ? "worker_attempts_of_existing" : "worker_attempts",
        std::string("INSERT INTO attempts (delivery_id, attempt, app_id, start_time, duration_ms,"
                    " status_code, response_excerpt, error, error_detail, worker)"
                    " SELECT v.id, v.n, v.app, v.start::timestamptz, v.ms, v.code, v.excerpt,"
                    " v.error, v.detail, $10 FROM unnest($1::text[], $2::int[], $3::text[],"
                    " $4::text[], $5::int[], $6::int[], $7::text[], $8::smallint[], $9::text[])"
                    " AS v(id, n, app, start, ms, code, excerpt, error, detail)") +
            (check_exists ? " WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = v.id"
                            " AND d.id = ANY($1::text[]))"
                          : ""),
        db::ArrayLiteral(a_ids), db::ArrayLiteral(a_numbers), db::ArrayLiteral(a_apps),
        db::ArrayLiteral(a_starts), db::ArrayLiteral(a_durations), db::ArrayLiteral(a_codes),
        db::ArrayLiteral(a_excerpts), db::ArrayLiteral(a_errors), db::ArrayLiteral(a_details),
        worker);
  }
}

// The state rows of a batch of outcomes; returns the deliveries it made FAILED after an attempt.
std::vector<Exhausted> RecordStates(pqxx::work& txn, const std::vector<Outcome>& outcomes) {
  // A success deletes the delivery's state row (migration 12: a delivery without one
  // SUCCEEDED); any other outcome updates it. A late duplicate never moves a finished delivery
  // back (a FAILED or DISCARDED row is left alone, a succeeded one has none), nor lowers its
  // attempt count. Each statement names its ids as a constant list, found along the primary
  // key of their days' partitions (migration 9); `status + 0` keeps the planner from reading
  // a status index instead. A batch of successes only, the common case, is one DELETE: joined
  // with the batch as a table, the same statement took 3.8 ms for 89 rows, reading the day's
  // whole partition.
  std::vector<std::string> succeeded;
  // The other outcomes as parallel arrays; a next time of InfinitePast means "now" (NULL here).
  std::vector<std::string> ids, statuses, attempt_numbers, codes, nexts, attempted;
  for (const Outcome& o : outcomes) {
    if (o.status == v1::SUCCEEDED) {
      succeeded.push_back(o.delivery_id);
      continue;
    }
    ids.push_back(o.delivery_id);
    statuses.push_back(std::to_string(static_cast<int>(o.status)));
    attempt_numbers.push_back(std::to_string(o.attempted ? o.attempt : 0));
    codes.push_back(std::to_string(o.result.status_code));
    nexts.push_back(o.next_attempt_time == absl::InfinitePast()
                        ? ""
                        : db::TimestampLiteral(o.next_attempt_time));
    attempted.push_back(o.attempted ? "t" : "f");
  }
  if (!succeeded.empty()) {
    db::ExecPrepared(
        txn, "worker_succeeded",
        "DELETE FROM delivery_state WHERE id = ANY($1::text[]) AND (status + 0) NOT IN " +
            Sql(kFinished),
        db::ArrayLiteral(succeeded));
  }
  // Only the rows this batch made FAILED after an attempt come back: a late duplicate updates
  // no row, so each exhausted delivery is reported once.
  pqxx::result failed;
  if (!ids.empty()) {
    failed = db::ExecPrepared(
        txn, "worker_record",
        "WITH u AS (UPDATE delivery_state AS s SET status = v.status,"
        " attempt_count = greatest(s.attempt_count, v.attempt),"
        " last_status_code = CASE WHEN v.attempted THEN v.code ELSE s.last_status_code END,"
        " next_attempt_time = coalesce(nullif(v.next, '')::timestamptz, now()),"
        " update_time = now()"
        " FROM unnest($1::text[], $2::smallint[], $3::int[], $4::int[], $5::text[], $6::bool[])"
        " AS v(id, status, attempt, code, next, attempted)"
        " WHERE s.id = v.id AND s.id = ANY($1::text[]) AND (s.status + 0) NOT IN " +
            Sql(kFinished) +
            " RETURNING s.id, s.app_id, s.tenant, s.attempt_count, s.status, v.attempted)"
            " SELECT id, app_id, tenant, attempt_count FROM u WHERE status = " +
            Sql(v1::FAILED) + " AND attempted",
        db::ArrayLiteral(ids), db::ArrayLiteral(statuses), db::ArrayLiteral(attempt_numbers),
        db::ArrayLiteral(codes), db::ArrayLiteral(nexts), db::ArrayLiteral(attempted));
  }
  std::vector<Exhausted> exhausted;
  if (!failed.empty()) {
    std::map<std::string, const Outcome*> by_id;
    for (const Outcome& o : outcomes) by_id[o.delivery_id] = &o;
    for (const auto& row : failed) {
      Exhausted e{.delivery_id = row[0].as<std::string>(),
                  .event_id = {},
                  .event_type = {},
                  .app_id = row[1].as<std::string>(),
                  .tenant = row[2].as<std::string>(),
                  .attempts = row[3].as<int>(),
                  .last_result = {}};
      if (auto it = by_id.find(e.delivery_id); it != by_id.end()) {
        e.event_id = it->second->event_id;
        e.event_type = it->second->event_type;
        e.last_result = it->second->result;
      }
      exhausted.push_back(std::move(e));
    }
  }
  return exhausted;
}

// The apps' failure streaks: the marks of those that reached half of their threshold, or all of
// it, go to `recorded`.
void RecordStreaks(pqxx::work& txn, const std::vector<Outcome>& outcomes, Recorded& recorded) {
  // Failure streaks: per app, failures after its last success in this batch. One statement
  // per app, in id order, so that two workers lock apps rows in the same order.
  struct Streak {
    bool reset = false;
    int failures = 0;
    const Outcome* last_failure = nullptr;
  };
  std::map<std::string, Streak> streaks;  // by app
  for (const Outcome& o : outcomes) {
    Streak& streak = streaks[o.app_id];
    if (o.counts_success) {
      streak.reset = true;
      streak.failures = 0;
    } else if (o.counts_failure) {
      ++streak.failures;
      streak.last_failure = &o;
    }
  }
  for (const auto& [app_id, streak] : streaks) {
    if (!streak.reset && streak.failures == 0) continue;
    // A reset of a streak that is 0 already writes nothing: with healthy apps this is the
    // common case, and skipping it keeps every batch from updating (and locking) apps rows.
    pqxx::result rows = db::ExecPrepared(
        txn, "worker_streak",
        "UPDATE apps SET failure_streak = CASE WHEN $2 THEN $3 ELSE failure_streak + $3 END"
        " WHERE id = $1 AND (failure_streak <> 0 OR $3 <> 0) RETURNING failure_streak,"
        " coalesce((config->>'disable_after_failures')::int, 10), active, tenant,"
        " coalesce(config->>'name', '')",
        app_id, streak.reset, streak.failures);
    if (rows.empty() || streak.failures == 0 || !rows[0][2].as<bool>()) continue;
    StreakReached mark{.app_id = app_id,
                       .tenant = rows[0][3].as<std::string>(),
                       .app_name = rows[0][4].as<std::string>(),
                       .streak = rows[0][0].as<int>(),
                       .threshold = rows[0][1].as<int>(),
                       .last_result = streak.last_failure->result,
                       .last_delivery_id = streak.last_failure->delivery_id};
    const int half = (mark.threshold + 1) / 2;
    const int before = mark.streak - streak.failures;
    if (mark.streak >= mark.threshold) {
      recorded.reached.push_back(std::move(mark));
    } else if (before < half && mark.streak >= half) {
      recorded.failing.push_back(std::move(mark));
    }
  }
}

}  // namespace

absl::Status DeliveryStore::RecordOnce(const std::vector<Outcome>& outcomes,
                                       const AfterRecord& after, bool check_exists,
                                       Recorded& recorded) {
  return db_.Transact("record outcomes", [&](pqxx::work& txn) -> absl::Status {
    recorded = Recorded();  // a retried transaction starts over
    InsertAttempts(txn, outcomes, check_exists, worker_);
    recorded.exhausted = RecordStates(txn, outcomes);
    RecordStreaks(txn, outcomes, recorded);
    if (after) HOOKD_RETURN_IF_ERROR(after(txn, recorded));
    return absl::OkStatus();
  });
}

std::optional<LoggedAttempt> LatestAttemptOfApp(pqxx::work& txn, const std::string& app_id) {
  pqxx::result rows = db::ExecPrepared(
      txn, "ledger_latest_attempt",
      "SELECT delivery_id, (extract(epoch FROM start_time) * 1000000)::bigint, duration_ms,"
      " status_code, response_excerpt, error, error_detail FROM attempts WHERE app_id = $1"
      " ORDER BY start_time DESC LIMIT 1",
      app_id);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  return LoggedAttempt{.delivery_id = row[0].as<std::string>(),
                       .result = {.status_code = row[3].as<int>(),
                                  .body_excerpt = row[4].as<std::string>(),
                                  .error = static_cast<v1::AttemptError>(row[5].as<int>()),
                                  .error_detail = row[6].as<std::string>(),
                                  .start_time = absl::FromUnixMicros(row[1].as<int64_t>()),
                                  .duration = absl::Milliseconds(row[2].as<int>())}};
}

namespace {

// Locks the state rows `select` finds (its statement ends FOR UPDATE SKIP LOCKED and returns
// their ids), then applies `set` (an assignment list) to them by id and returns them with their
// event ids. Two statements rather than UPDATE ... WHERE id IN (SELECT ...): the update then
// plans only the days of the rows found (the log is in day partitions, migration 9), and a sweep
// that finds nothing, the common case, plans no update at all. The select is prepared as `name`:
// the workers run it several times a second, and planning it over every day costs more than
// running it.
template <typename... Params>
std::vector<DeliveryStore::Lost> Claim(pqxx::work& txn, const std::string& name,
                                       const std::string& select, const std::string& set,
                                       Params&&... params) {
  std::vector<std::string> ids;
  for (const auto& row : db::ExecPrepared(txn, name, select, std::forward<Params>(params)...)) {
    ids.push_back(row[0].template as<std::string>());
  }
  std::vector<DeliveryStore::Lost> claimed;
  if (ids.empty()) return claimed;
  for (const auto& row :
       txn.exec_params("WITH u AS (UPDATE delivery_state SET " + set +
                           " WHERE id = ANY($1::text[]) RETURNING id, app_id, attempt_count,"
                           " CASE WHEN isfinite(next_attempt_time) THEN"
                           " (extract(epoch FROM next_attempt_time) * 1000000)::bigint END AS next)"
                           " SELECT u.id, d.event_id, u.app_id, u.attempt_count, u.next FROM u"
                           " JOIN deliveries d ON d.id = u.id AND d.id = ANY($1::text[])",
                       db::ArrayLiteral(ids))) {
    claimed.push_back({.delivery_id = row[0].as<std::string>(),
                       .event_id = row[1].as<std::string>(),
                       .app_id = row[2].as<std::string>(),
                       .attempt_count = row[3].as<int>(),
                       .next_attempt_time = row[4].is_null()
                                                ? absl::InfinitePast()
                                                : absl::FromUnixMicros(row[4].as<int64_t>())});
  }
  return claimed;
}

}  // namespace

absl::StatusOr<std::vector<DeliveryStore::Lost>> DeliveryStore::ClaimDue(int limit) {
  std::vector<Lost> due;
  HOOKD_RETURN_IF_ERROR(db_.Transact("claim due deliveries", [&](pqxx::work& txn) {
    due = Claim(txn, "ledger_claim_due",
                "SELECT id FROM delivery_state WHERE status = " + Sql(v1::SCHEDULED) +
                    " AND next_attempt_time <= now()"
                    " ORDER BY next_attempt_time LIMIT $1 FOR UPDATE SKIP LOCKED",
                "status = " + Sql(v1::PENDING) + ", update_time = now()", limit);
    return absl::OkStatus();
  }));
  return due;
}

absl::StatusOr<std::vector<DeliveryStore::Lost>> DeliveryStore::ClaimLost(absl::Duration grace,
                                                                          int limit) {
  std::vector<Lost> lost;
  HOOKD_RETURN_IF_ERROR(db_.Transact("claim lost deliveries", [&](pqxx::work& txn) {
    const double seconds = absl::ToDoubleSeconds(grace);
    lost = Claim(txn, "ledger_claim_lost",
                 "SELECT id FROM delivery_state WHERE status IN " + Sql(kUnfinished) +
                     " AND next_attempt_time < now() - make_interval(secs => $1)"
                     " AND update_time < now() - make_interval(secs => $1)"
                     " ORDER BY next_attempt_time LIMIT $2 FOR UPDATE SKIP LOCKED",
                 "update_time = now()", seconds, limit);
    if (static_cast<int>(lost.size()) >= limit) return absl::OkStatus();
    // Held deliveries of active apps, along delivery_state_by_app (migration 12): only apps enabled
    // without their held deliveries resumed have any. One held before its deliver_at or
    // delivery_delay came (its time is in next_attempt_time) waits for that time.
    for (Lost& held :
         Claim(txn, "ledger_claim_held",
               "SELECT d.id FROM apps a JOIN delivery_state d ON d.app_id = a.id AND d.status = " +
                   Sql(v1::HELD) +
                   " WHERE a.active AND a.delete_time IS NULL"
                   " AND d.update_time < now() - make_interval(secs => $1)"
                   " AND (d.next_attempt_time <= now() OR d.next_attempt_time = 'infinity')"
                   " ORDER BY d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
               "update_time = now()", seconds, limit - static_cast<int>(lost.size()))) {
      lost.push_back(std::move(held));
    }
    return absl::OkStatus();
  }));
  return lost;
}

absl::StatusOr<std::vector<DeliveryStore::Lost>> DeliveryStore::ClaimChangedBefore(
    absl::Time before, int limit) {
  std::vector<Lost> claimed;
  HOOKD_RETURN_IF_ERROR(db_.Transact("claim deliveries Redis lost", [&](pqxx::work& txn) {
    claimed = Claim(txn, "ledger_claim_changed_before",
                    "SELECT id FROM delivery_state WHERE status IN " + Sql(kUnfinished) +
                        " AND update_time < $1::timestamptz"
                        " ORDER BY next_attempt_time LIMIT $2 FOR UPDATE SKIP LOCKED",
                    "update_time = now()", db::TimestampLiteral(before), limit);
    return absl::OkStatus();
  }));
  return claimed;
}

absl::Status DeliveryStore::Touch(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return db_.Transact("mark held deliveries in progress", [&](pqxx::work& txn) {
    db::ExecPrepared(txn, "ledger_touch",
                     "UPDATE delivery_state SET update_time = now() WHERE id = ANY($1::text[])"
                     " AND status IN " +
                         Sql(kUnfinished),
                     db::ArrayLiteral(ids));
    return absl::OkStatus();
  });
}

absl::StatusOr<absl::Time> DeliveryStore::Now() {
  absl::Time now;
  HOOKD_RETURN_IF_ERROR(db_.Transact("read the database clock", [&](pqxx::work& txn) {
    now = absl::FromUnixMicros(
        txn.exec1("SELECT (extract(epoch FROM now()) * 1000000)::bigint")[0].as<int64_t>());
    return absl::OkStatus();
  }));
  return now;
}

}  // namespace hookd::ledger
