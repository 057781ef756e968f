#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/db/pg_pool.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/ledger/outbox.h"
#include "hookd/v1/app.pb.h"
#include "hookd/v1/event_type.pb.h"

// hookd's operational events (README, "Operational events"): what hookd reports about apps and
// deliveries, published into the operations tenant (HOOKD_OPS_TENANT) in the transaction of the
// change they report, by the process that makes it. They are ordinary events from there on:
// routed to the operations tenant's apps by their event types, signed and retried like any.

namespace hookd::opsevents {

inline constexpr char kDefaultTenant[] = "hookd-ops";

inline constexpr char kAppDisabled[] = "hookd.app.disabled";
inline constexpr char kAppEnabled[] = "hookd.app.enabled";
inline constexpr char kAppFailing[] = "hookd.app.failing";
inline constexpr char kDeliveryExhausted[] = "hookd.delivery.exhausted";

// The catalog entries of the four types, with their JSON Schemas (draft 7).
const std::vector<v1::EventType>& EventTypes();

// Creates the four types in the catalog, or brings a stored one up to date (hookd-subscription
// at start; concurrent replicas are harmless).
absl::Status RegisterEventTypes(db::PgPool& db);

// The payloads, as README documents them. The app's are as stored by the change (its
// update_time is when it happened); `last` is the app's latest attempt
// (ledger::LatestAttemptOfApp), reported as last_error when it failed.
std::string AppDisabledPayload(const v1::App& app,
                               const std::optional<ledger::LoggedAttempt>& last);
std::string AppEnabledPayload(const v1::App& app, bool resumed);
std::string AppFailingPayload(const ledger::StreakReached& streak, absl::Time at);
std::string DeliveryExhaustedPayload(const ledger::Exhausted& exhausted, absl::Time at);

// One operational event about an app of `about_tenant` (its id `about_app_id`).
struct OpsEvent {
  std::string event_type;
  // Makes the payload, a JSON object: called only when some app receives the event, so that
  // an unheard event costs no query.
  std::function<std::string()> payload;
  std::string about_tenant;
  std::string about_app_id;
};

class Publisher {
 public:
  // `tenant`: the operations tenant. Payloads up to `max_inline_payload_bytes` travel with their
  // stream messages, as published events' do.
  explicit Publisher(std::string tenant, size_t max_inline_payload_bytes = 64 * 1024)
      : tenant_(std::move(tenant)), max_inline_payload_bytes_(max_inline_payload_bytes) {}

  // Stores `events` in `txn`, each with a delivery to every app of the operations tenant that
  // subscribes to its type (HELD for a disabled one, SCHEDULED after a delivery_delay), but
  // never to the app it is about. An event no app receives is not stored. So that an
  // operations app that fails is never reported to itself in a loop, failing and exhausted
  // events about the operations tenant's own apps are dropped; whether one of them is disabled
  // or enabled still reaches the others. Returns the outbox batch to enqueue after commit
  // (ledger::EnqueueCommitted). Events that cannot be stored for want of today's partition are
  // logged and dropped under a savepoint: the change they report commits anyway.
  absl::StatusOr<ledger::OutboxBatch> Publish(pqxx::work& txn, const std::vector<OpsEvent>& events,
                                              absl::Time now) const;

 private:
  const std::string tenant_;
  const size_t max_inline_payload_bytes_;
};

}  // namespace hookd::opsevents
