#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/outbox.h"
#include "hookd/v1/ingest.pb.h"

// Publishing's statements: idempotency keys, and an event batch with its deliveries and outbox
// row, written in the caller's transaction (hookd-ingest's group commit, or the transaction of
// the change an operational event reports).

namespace hookd::ledger {

// (tenant, idempotency key).
using IdempotencyKey = std::pair<std::string, std::string>;

// Claims each key for its event id, unless another event holds it since less than `window`.
// Returns the keys claimed; the others belong to an earlier publish (PublishedUnder).
std::set<IdempotencyKey> ClaimIdempotencyKeys(pqxx::work& txn,
                                              const std::map<IdempotencyKey, std::string>& keys,
                                              absl::Duration window);

// The event that holds each key, with the deliveries it made.
struct PublishedBefore {
  std::string event_id;
  int delivery_count = 0;
};
std::map<IdempotencyKey, PublishedBefore> PublishedUnder(pqxx::work& txn,
                                                         const std::vector<IdempotencyKey>& keys);

// The deliveries one event makes, by the state each starts in.
struct Routes {
  std::vector<std::string> pending = {};  // PENDING, queued at commit
  // HELD (disabled apps), not queued, with the time each is due when resumed.
  std::vector<std::pair<std::string, absl::Time>> held = {};
  // SCHEDULED, not queued: due at their time (deliver_at, deliver_after, delivery_delay; see
  // DeliveryStore::ClaimDue).
  std::vector<std::pair<std::string, absl::Time>> scheduled = {};

  // Adds a delivery to `app_id`, due at `due`: HELD when the app is not `active`, SCHEDULED when
  // `due` is after `now`, PENDING otherwise.
  void Add(const std::string& app_id, bool active, absl::Time due, absl::Time now);
  size_t size() const { return pending.size() + held.size() + scheduled.size(); }
};

// An event about to be stored, with its deliveries.
struct NewEvent {
  const v1::PublishRequest* request;  // tenant, type, payload, channels, key, traceparent
  std::string id;
  const Routes* routes;
};

// Inserts `events`, their deliveries (PENDING, HELD or SCHEDULED, as their Routes say) and one
// outbox row carrying a stream message per PENDING delivery, in one statement: one round trip
// per batch. Every event gets `create_time`, which its messages carry too, so that a retry loaded
// from Postgres signs the same envelope. Payloads up to `max_inline_payload_bytes` travel inline
// with their messages. Returns the outbox batch (id 0 and no messages when no delivery is
// PENDING).
OutboxBatch InsertPublished(pqxx::work& txn, const std::vector<NewEvent>& events,
                            absl::Time create_time, size_t max_inline_payload_bytes);

// The stored event `id`; nullopt when there is none.
absl::StatusOr<std::optional<v1::Event>> GetEvent(db::PgPool& db, const std::string& id);

}  // namespace hookd::ledger
