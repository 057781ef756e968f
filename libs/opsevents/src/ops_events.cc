#include "hookd/opsevents/ops_events.h"

#include "hookd/apps/app_store.h"
#include "hookd/apps/routing.h"
#include "hookd/common/ids.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/dialect/json_text.h"
#include "hookd/ledger/publish.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace hookd::opsevents {
namespace {

using Json = nlohmann::json;

// What every payload says about the app: which one, of which tenant.
Json AppFields(const std::string& id, const std::string& tenant, const std::string& name) {
  return {{"app_id", id}, {"tenant", tenant}, {"app_name", name}};
}

// What last_error says of a failed attempt.
Json AttemptJson(const std::string& delivery_id, const ledger::AttemptResult& result) {
  return {{"delivery_id", delivery_id},
          {"time", dialect::Rfc3339(result.start_time)},
          {"status_code", result.status_code},
          {"error", v1::AttemptError_Name(result.error)},
          {"error_detail", result.error_detail}};
}

// The schemas' shared parts.
Json AppProperties() {
  return {{"app_id", {{"type", "string"}}},
          {"tenant", {{"type", "string"}}},
          {"app_name", {{"type", "string"}}}};
}

Json LastErrorSchema() {
  return {{"type", "object"},
          {"required", {"delivery_id", "time", "status_code", "error"}},
          {"properties",
           {{"delivery_id", {{"type", "string"}}},
            {"time", {{"type", "string"}}},
            {"status_code", {{"type", "integer"}, {"minimum", 0}}},
            {"error", {{"type", "string"}}},
            {"error_detail", {{"type", "string"}}}}}};
}

v1::EventType MakeType(const char* name, const char* description, Json properties,
                       std::vector<std::string> required) {
  v1::EventType type;
  type.set_name(name);
  type.set_description(description);
  Json schema = {{"$schema", "http://json-schema.org/draft-07/schema#"},
                 {"type", "object"},
                 {"required", required},
                 {"properties", std::move(properties)}};
  type.set_schema(schema.dump());
  return type;
}

}  // namespace

const std::vector<v1::EventType>& EventTypes() {
  static const auto* types = [] {
    auto* out = new std::vector<v1::EventType>();
    Json disabled = AppProperties();
    disabled["reason"] = {{"type", "string"}};
    disabled["failure_streak"] = {{"type", "integer"}, {"minimum", 0}};
    disabled["disable_time"] = {{"type", "string"}};
    disabled["last_error"] = LastErrorSchema();
    out->push_back(MakeType(kAppDisabled,
                            "hookd disabled an app: its failures reached disable_after_failures, "
                            "it asked to be disabled on a permanent error, or an operator did",
                            std::move(disabled),
                            {"app_id", "tenant", "app_name", "reason", "disable_time"}));
    Json enabled = AppProperties();
    enabled["held_deliveries"] = {{"enum", {"resume", "discard"}}};
    enabled["enable_time"] = {{"type", "string"}};
    out->push_back(MakeType(kAppEnabled, "An app was enabled again (EnableApp)", std::move(enabled),
                            {"app_id", "tenant", "app_name", "held_deliveries", "enable_time"}));
    Json failing = AppProperties();
    failing["failure_streak"] = {{"type", "integer"}, {"minimum", 1}};
    failing["disable_after_failures"] = {{"type", "integer"}, {"minimum", 1}};
    failing["time"] = {{"type", "string"}};
    failing["last_error"] = LastErrorSchema();
    out->push_back(MakeType(
        kAppFailing, "An app's consecutive failed deliveries reached half its disable threshold",
        std::move(failing),
        {"app_id", "tenant", "app_name", "failure_streak", "disable_after_failures", "time",
         "last_error"}));
    Json exhausted = {
        {"delivery_id", {{"type", "string"}}}, {"event_id", {{"type", "string"}}},
        {"event_type", {{"type", "string"}}},  {"app_id", {{"type", "string"}}},
        {"tenant", {{"type", "string"}}},      {"attempts", {{"type", "integer"}, {"minimum", 1}}},
        {"time", {{"type", "string"}}},        {"last_error", LastErrorSchema()}};
    out->push_back(MakeType(kDeliveryExhausted,
                            "A delivery failed for good: its retries are exhausted, or the "
                            "endpoint answered 410 Gone",
                            std::move(exhausted),
                            {"delivery_id", "event_id", "event_type", "app_id", "tenant",
                             "attempts", "time", "last_error"}));
    return out;
  }();
  return *types;
}

absl::Status RegisterEventTypes(db::PgPool& db) {
  return db.Transact("register operational event types", [](pqxx::work& txn) {
    for (const v1::EventType& type : EventTypes()) {
      // Unchanged types are left alone, so a restart does not touch the catalog's update times.
      txn.exec_params(
          "INSERT INTO event_types (name, description, schema) VALUES ($1, $2, $3::jsonb)"
          " ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,"
          " schema = EXCLUDED.schema, archived = false, update_time = now()"
          " WHERE event_types.description <> EXCLUDED.description"
          " OR event_types.schema IS DISTINCT FROM EXCLUDED.schema OR event_types.archived",
          type.name(), type.description(), type.schema());
    }
    return absl::OkStatus();
  });
}

std::string AppDisabledPayload(const v1::App& app,
                               const std::optional<ledger::LoggedAttempt>& last) {
  Json payload = AppFields(app.id(), app.tenant(), app.name());
  payload["reason"] = app.disabled_reason();
  payload["failure_streak"] = app.failure_streak();
  payload["disable_time"] = dialect::Rfc3339(ToAbslTime(app.update_time()));
  // An operator may disable an app whose latest attempt succeeded: then there is no error.
  if (last.has_value() && last->result.error != v1::ATTEMPT_ERROR_NONE) {
    payload["last_error"] = AttemptJson(last->delivery_id, last->result);
  }
  return payload.dump();
}

std::string AppEnabledPayload(const v1::App& app, bool resumed) {
  Json payload = AppFields(app.id(), app.tenant(), app.name());
  payload["held_deliveries"] = resumed ? "resume" : "discard";
  payload["enable_time"] = dialect::Rfc3339(ToAbslTime(app.update_time()));
  return payload.dump();
}

std::string AppFailingPayload(const ledger::StreakReached& streak, absl::Time at) {
  Json payload = AppFields(streak.app_id, streak.tenant, streak.app_name);
  payload["failure_streak"] = streak.streak;
  payload["disable_after_failures"] = streak.threshold;
  payload["time"] = dialect::Rfc3339(at);
  payload["last_error"] = AttemptJson(streak.last_delivery_id, streak.last_result);
  return payload.dump();
}

std::string DeliveryExhaustedPayload(const ledger::Exhausted& exhausted, absl::Time at) {
  Json payload = {{"delivery_id", exhausted.delivery_id},
                  {"event_id", exhausted.event_id},
                  {"event_type", exhausted.event_type},
                  {"app_id", exhausted.app_id},
                  {"tenant", exhausted.tenant},
                  {"attempts", exhausted.attempts},
                  {"time", dialect::Rfc3339(at)},
                  {"last_error", AttemptJson(exhausted.delivery_id, exhausted.last_result)}};
  return payload.dump();
}

absl::StatusOr<ledger::OutboxBatch> Publisher::Publish(pqxx::work& txn,
                                                       const std::vector<OpsEvent>& events,
                                                       absl::Time now) const {
  std::vector<const OpsEvent*> reported;
  for (const OpsEvent& event : events) {
    // The loop breaker: an operations app's failures are not reported (to it or its peers).
    const bool about_failures =
        event.event_type == kAppFailing || event.event_type == kDeliveryExhausted;
    if (about_failures && event.about_tenant == tenant_) continue;
    reported.push_back(&event);
  }
  if (reported.empty()) return ledger::OutboxBatch{};
  HOOKD_ASSIGN_OR_RETURN(std::vector<v1::App> ops_apps, apps::TenantAppsForRouting(txn, tenant_));
  if (ops_apps.empty()) return ledger::OutboxBatch{};

  // Stable storage for what NewEvent points to.
  std::vector<v1::PublishRequest> requests(reported.size());
  std::vector<ledger::Routes> routes(reported.size());
  std::vector<ledger::NewEvent> stored;
  for (size_t i = 0; i < reported.size(); ++i) {
    const OpsEvent& event = *reported[i];
    for (const v1::App& app : ops_apps) {
      if (app.id() == event.about_app_id || !apps::AppMatches(app, event.event_type, {})) continue;
      routes[i].Add(app.id(), app.active(), apps::DueTime(app, now), now);
    }
    if (routes[i].size() == 0) continue;
    requests[i].set_tenant(tenant_);
    requests[i].set_event_type(event.event_type);
    requests[i].set_payload(event.payload());
    stored.push_back({.request = &requests[i], .id = NewId("evt"), .routes = &routes[i]});
  }
  if (stored.empty()) return ledger::OutboxBatch{};  // no operations app takes any of them
  // Microseconds, as Postgres keeps them: the stream carries the same time as the row.
  const absl::Time create_time = absl::FromUnixMicros(absl::ToUnixMicros(now));
  // Under a savepoint: a report that cannot be stored (no partition for today: the retention
  // leader has been down for a week) is logged and dropped, and the change it reports still
  // commits. Disabling an app, or recording a worker's batch, must not wait for it.
  txn.exec("SAVEPOINT hookd_ops_events");
  try {
    ledger::OutboxBatch batch =
        ledger::InsertPublished(txn, stored, create_time, max_inline_payload_bytes_);
    txn.exec("RELEASE SAVEPOINT hookd_ops_events");
    return batch;
  } catch (const pqxx::check_violation& e) {
    txn.exec("ROLLBACK TO SAVEPOINT hookd_ops_events");
    spdlog::error("{} operational event(s) not stored, the change they report is: {}",
                  stored.size(), e.what());
    return ledger::OutboxBatch{};
  }
}

}  // namespace hookd::opsevents
