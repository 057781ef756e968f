#include "publish_validation.h"

#include <algorithm>
#include <set>

#include "absl/time/clock.h"
#include "hookd/apps/validation.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "simdjson.h"

namespace hookd::ingest {
namespace {

constexpr size_t kMaxIdempotencyKey = 256;
constexpr int kMaxChannels = 10;
constexpr size_t kMaxTraceparent = 55;  // version 00: 2+1+32+1+16+1+2

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// W3C Trace Context: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
bool IsTraceparent(std::string_view v) {
  return v.size() == kMaxTraceparent && v[2] == '-' && v[35] == '-' && v[52] == '-' &&
         IsLowerHex(v.substr(0, 2)) && IsLowerHex(v.substr(3, 32)) &&
         IsLowerHex(v.substr(36, 16)) && IsLowerHex(v.substr(53, 2)) &&
         v.substr(3, 32) != std::string(32, '0') && v.substr(36, 16) != std::string(16, '0');
}

}  // namespace

absl::Status ValidateJsonObject(const std::string& payload, const std::string& field) {
  // One parser per thread: simdjson parsers reuse their buffers and are not thread-safe.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto error = parser.parse(payload).get(root);
  if (error) {
    return InvalidField(field,
                        std::string("not valid JSON (") + simdjson::error_message(error) + ")");
  }
  if (!root.is_object()) return InvalidField(field, "must be a JSON object");
  return absl::OkStatus();
}

absl::Status ValidateSchedule(const v1::PublishRequest& request, const std::string& prefix,
                              absl::Time now) {
  constexpr absl::Duration kMaxAhead = absl::Hours(24 * 7);
  if (request.has_deliver_at() && request.has_deliver_after()) {
    return InvalidField(prefix + "deliver_at", "set deliver_at or deliver_after, not both");
  }
  if (request.has_deliver_at()) {
    const auto& at = request.deliver_at();
    if (at.nanos() < 0 || at.nanos() > 999999999) {
      return InvalidField(prefix + "deliver_at", "is not a valid timestamp");
    }
    const absl::Time time = ToAbslTime(at);
    if (time < absl::FromCivil(absl::CivilSecond(2000, 1, 1), absl::UTCTimeZone())) {
      return InvalidField(prefix + "deliver_at", "must not be before 2000-01-01T00:00:00Z");
    }
    if (time > now + kMaxAhead) {
      return InvalidField(prefix + "deliver_at", "must be at most 7 days ahead");
    }
  }
  if (request.has_deliver_after()) {
    const auto& after = request.deliver_after();
    const absl::Duration duration = ToAbslDuration(after);
    if (after.nanos() < -999999999 || after.nanos() > 999999999 ||
        duration < absl::ZeroDuration() || duration > kMaxAhead) {
      return InvalidField(prefix + "deliver_after", "must be between 0 and 7 days");
    }
  }
  return absl::OkStatus();
}

absl::Time DeliverAt(const v1::PublishRequest& request, absl::Time now) {
  if (request.has_deliver_at()) {
    return std::max(now, ToAbslTime(request.deliver_at()));
  }
  if (request.has_deliver_after()) {
    return now + ToAbslDuration(request.deliver_after());
  }
  return now;
}

absl::Status ValidatePublishFields(const v1::PublishRequest& request, const PublishLimits& limits,
                                   const std::string& prefix, absl::Time now) {
  HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(request.tenant(), prefix + "tenant"));
  const std::string type_field = prefix + "event_type";
  if (request.event_type().empty()) return InvalidField(type_field, "required");
  HOOKD_RETURN_IF_ERROR(apps::ValidateEventTypeName(request.event_type(), type_field));
  HOOKD_RETURN_IF_ERROR(apps::RefuseReservedEventType(request.event_type(), type_field));

  const std::string payload_field = prefix + "payload";
  if (request.payload().size() > limits.max_payload_bytes) {
    return absl::ResourceExhaustedError(
        payload_field + ": " + std::to_string(request.payload().size()) + " bytes exceeds the " +
        std::to_string(limits.max_payload_bytes) + "-byte limit");
  }
  if (request.payload().empty()) return InvalidField(payload_field, "required (a JSON object)");
  HOOKD_RETURN_IF_ERROR(ValidateJsonObject(request.payload(), payload_field));

  if (request.idempotency_key().size() > kMaxIdempotencyKey) {
    return InvalidField(prefix + "idempotency_key", "at most 256 characters");
  }
  if (request.channels_size() > kMaxChannels) {
    return InvalidField(prefix + "channels", "at most 10");
  }
  std::set<std::string> seen;
  for (int i = 0; i < request.channels_size(); ++i) {
    const std::string field = prefix + "channels[" + std::to_string(i) + "]";
    HOOKD_RETURN_IF_ERROR(apps::ValidateChannel(request.channels(i), field));
    if (!seen.insert(request.channels(i)).second) return InvalidField(field, "duplicate channel");
  }
  if (!request.traceparent().empty() && !IsTraceparent(request.traceparent())) {
    return InvalidField(prefix + "traceparent",
                        "must be a W3C traceparent (00-<trace>-<span>-<flags>)");
  }

  return ValidateSchedule(request, prefix, now);
}

absl::Status ValidatePublish(const v1::PublishRequest& request, const PublishLimits& limits,
                             appcache::EventTypeCatalog& catalog, const std::string& prefix,
                             absl::Time now) {
  HOOKD_RETURN_IF_ERROR(ValidatePublishFields(request, limits, prefix, now));
  const std::string type_field = prefix + "event_type";
  const std::string payload_field = prefix + "payload";
  // Last, since it may need a round trip to hookd-subscription.
  auto state = catalog.Lookup(request.event_type());
  if (state == appcache::EventTypeCatalog::State::kUnknown) {
    HOOKD_RETURN_IF_ERROR(catalog.Refresh());
    state = catalog.Lookup(request.event_type());
  }
  if (state == appcache::EventTypeCatalog::State::kUnknown) {
    return InvalidField(type_field, request.event_type() + " is not in the event type catalog");
  }
  if (state == appcache::EventTypeCatalog::State::kArchived) {
    return InvalidField(type_field, request.event_type() + " is archived");
  }
  // The type's JSON Schema, compiled once per version of it by the catalog.
  if (auto schema = catalog.SchemaOf(request.event_type()); schema != nullptr) {
    HOOKD_RETURN_IF_ERROR(schema->Validate(request.payload(), payload_field));
  }
  return absl::OkStatus();
}

}  // namespace hookd::ingest
