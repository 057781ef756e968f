#include "hookd/ledger/publish.h"

#include "google/protobuf/util/time_util.h"
#include "hookd/common/ids.h"
#include "hookd/common/status.h"
#include "hookd/db/sql.h"
#include "nlohmann/json.hpp"
#include "status_sql.h"

namespace hookd::ledger {

std::set<IdempotencyKey> ClaimIdempotencyKeys(pqxx::work& txn,
                                              const std::map<IdempotencyKey, std::string>& keys,
                                              absl::Duration window) {
  std::set<IdempotencyKey> won;
  if (keys.empty()) return won;
  std::string values;
  for (const auto& [key, event_id] : keys) {
    if (!values.empty()) values += ',';
    values +=
        "(" + txn.quote(key.first) + "," + txn.quote(key.second) + "," + txn.quote(event_id) + ")";
  }
  const std::string seconds = std::to_string(absl::ToInt64Seconds(window));
  pqxx::result claimed =
      txn.exec("INSERT INTO idempotency_keys (tenant, key, event_id) VALUES " + values +
               " ON CONFLICT (tenant, key) DO UPDATE SET event_id = EXCLUDED.event_id,"
               " create_time = now() WHERE idempotency_keys.create_time < now() - interval '" +
               seconds + " seconds' RETURNING tenant, key");
  for (const auto& row : claimed) won.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  return won;
}

std::map<IdempotencyKey, PublishedBefore> PublishedUnder(pqxx::work& txn,
                                                         const std::vector<IdempotencyKey>& keys) {
  std::map<IdempotencyKey, PublishedBefore> found;
  if (keys.empty()) return found;
  std::string list;
  for (const auto& [tenant, key] : keys) {
    if (!list.empty()) list += ',';
    list += "(" + txn.quote(tenant) + "," + txn.quote(key) + ")";
  }
  pqxx::result rows = txn.exec(
      "SELECT k.tenant, k.key, k.event_id, e.delivery_count FROM idempotency_keys k"
      " JOIN events e ON e.id = k.event_id WHERE (k.tenant, k.key) IN (" +
      list + ")");
  for (const auto& row : rows) {
    found[{row[0].as<std::string>(), row[1].as<std::string>()}] = {row[2].as<std::string>(),
                                                                   row[3].as<int>()};
  }
  return found;
}

void Routes::Add(const std::string& app_id, bool active, absl::Time due, absl::Time now) {
  if (!active) {
    // Not queued until EnableApp resumes it; its due time stays with it.
    held.emplace_back(app_id, due);
  } else if (due > now) {
    scheduled.emplace_back(app_id, due);
  } else {
    pending.push_back(app_id);
  }
}

OutboxBatch InsertPublished(pqxx::work& txn, const std::vector<NewEvent>& events,
                            absl::Time create_time, size_t max_inline_payload_bytes) {
  OutboxBatch outbox;
  if (events.empty()) return outbox;
  // Events, deliveries and the outbox row as parallel arrays of one prepared statement: one
  // round trip for the whole batch, where COPY needs two per table.
  std::vector<std::string> event_ids, tenants, types, payloads, channel_lists, keys, traces, counts;
  std::vector<std::string> delivery_ids, delivery_events, delivery_apps, delivery_tenants,
      delivery_types, delivery_statuses, delivery_due;
  for (const NewEvent& event : events) {
    const v1::PublishRequest& r = *event.request;
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : r.channels()) channels.push_back(c);
    event_ids.push_back(event.id);
    tenants.push_back(r.tenant());
    types.push_back(r.event_type());
    payloads.push_back(r.payload());
    channel_lists.push_back(channels.dump());
    keys.push_back(r.idempotency_key());
    traces.push_back(r.traceparent());
    counts.push_back(std::to_string(event.routes->size()));
    std::optional<queue::InlineEvent> inline_event;
    if (r.payload().size() <= max_inline_payload_bytes) {
      inline_event = queue::InlineEvent{.event_type = r.event_type(),
                                        .payload = r.payload(),
                                        .traceparent = r.traceparent(),
                                        .create_time = create_time};
    }
    auto add_delivery = [&](const std::string& app_id, v1::DeliveryStatus status,
                            absl::Time due = absl::InfinitePast()) {
      std::string delivery_id = NewId("dlv");
      delivery_ids.push_back(delivery_id);
      delivery_events.push_back(event.id);
      delivery_apps.push_back(app_id);
      delivery_tenants.push_back(r.tenant());
      delivery_types.push_back(r.event_type());
      delivery_statuses.push_back(Sql(status));
      delivery_due.push_back(due == absl::InfinitePast() ? "" : db::TimestampLiteral(due));
      return delivery_id;
    };
    for (const std::string& app_id : event.routes->pending) {
      outbox.messages.push_back({.delivery_id = add_delivery(app_id, v1::PENDING),
                                 .event_id = event.id,
                                 .app_id = app_id,
                                 .event = inline_event});
    }
    for (const auto& [app_id, due] : event.routes->held) add_delivery(app_id, v1::HELD, due);
    for (const auto& [app_id, due] : event.routes->scheduled) {
      add_delivery(app_id, v1::SCHEDULED, due);
    }
  }
  pqxx::result outbox_row = db::ExecPrepared(
      txn, "ledger_publish",
      "WITH e AS (INSERT INTO events (id, tenant, event_type, payload, channels,"
      " idempotency_key, traceparent, delivery_count, create_time)"
      " SELECT id, tenant, event_type, payload, channels::jsonb, key, trace, n, $9::timestamptz"
      " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
      " $7::text[], $8::int[]) AS t(id, tenant, event_type, payload, channels, key, trace, n)),"
      " d AS (INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)"
      " SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[])),"
      // Every new delivery has a state row until it succeeds (migration 12).
      " s AS (INSERT INTO delivery_state (id, app_id, tenant, status, next_attempt_time)"
      " SELECT i, a, t, s, coalesce(nullif(due, '')::timestamptz, now())"
      " FROM unnest($10::text[], $12::text[], $13::text[], $16::smallint[], $18::text[])"
      " AS x(i, a, t, s, due))"
      " INSERT INTO outbox (messages) SELECT $15 WHERE $17::bool"
      " RETURNING id",
      db::ArrayLiteral(event_ids), db::ArrayLiteral(tenants), db::ArrayLiteral(types),
      db::ArrayLiteral(payloads), db::ArrayLiteral(channel_lists), db::ArrayLiteral(keys),
      db::ArrayLiteral(traces), db::ArrayLiteral(counts), db::TimestampLiteral(create_time),
      db::ArrayLiteral(delivery_ids), db::ArrayLiteral(delivery_events),
      db::ArrayLiteral(delivery_apps), db::ArrayLiteral(delivery_tenants),
      db::ArrayLiteral(delivery_types), queue::EncodeOutbox(outbox.messages),
      db::ArrayLiteral(delivery_statuses), !outbox.messages.empty(),
      db::ArrayLiteral(delivery_due));
  if (!outbox_row.empty()) outbox.outbox_id = outbox_row[0][0].as<int64_t>();
  return outbox;
}

absl::StatusOr<std::optional<v1::Event>> GetEvent(db::PgPool& db, const std::string& id) {
  std::optional<v1::Event> event;
  HOOKD_RETURN_IF_ERROR(db.Transact("get event", [&](pqxx::work& txn) {
    pqxx::result rows = txn.exec_params(
        "SELECT id, tenant, event_type, payload, channels::text, idempotency_key,"
        " (extract(epoch FROM create_time) * 1000000)::bigint, delivery_count"
        " FROM events WHERE id = $1",
        id);
    if (rows.empty()) return absl::OkStatus();
    const auto& row = rows[0];
    event.emplace();
    event->set_id(row[0].as<std::string>());
    event->set_tenant(row[1].as<std::string>());
    event->set_event_type(row[2].as<std::string>());
    event->set_payload(row[3].as<std::string>());
    for (const auto& c : nlohmann::json::parse(row[4].as<std::string>())) {
      event->add_channels(c.get<std::string>());
    }
    event->set_idempotency_key(row[5].as<std::string>());
    *event->mutable_create_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row[6].as<int64_t>());
    event->set_delivery_count(row[7].as<int>());
    return absl::OkStatus();
  }));
  return event;
}

}  // namespace hookd::ledger
