#include "hookd/delivery/request.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"
#include "hookd/dialect/json_text.h"
#include "hookd/dialect/payload_template.h"
#include "hookd/dialect/signature_profile.h"

namespace hookd::delivery {
namespace {

constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

}  // namespace

std::string Envelope(const EventData& event) {
  return absl::StrCat("{\"type\":\"", dialect::JsonEscape(event.event_type), "\",\"timestamp\":\"",
                      dialect::Rfc3339(event.create_time), "\",\"data\":", event.payload, "}");
}

absl::StatusOr<std::string> Body(const v1::App& app, const EventData& event,
                                 std::string_view secret) {
  switch (app.payload_format()) {
    case v1::PAYLOAD_FORMAT_RAW:
      return event.payload;
    case v1::PAYLOAD_FORMAT_TEMPLATE: {
      dialect::TemplateValues values;
      values.event_type = event.event_type;
      values.event_id = event.id;
      values.time = event.create_time;
      values.payload = event.payload;
      if (dialect::KindOfSecret(secret) != dialect::SecretKind::kEd25519) values.secret = secret;
      absl::StatusOr<std::string> body =
          dialect::RenderPayloadTemplate(app.payload_template(), values);
      if (!body.ok()) return absl::FailedPreconditionError(body.status().message());
      return body;
    }
    default:
      return Envelope(event);
  }
}

absl::StatusOr<http::HttpRequest> BuildRequest(const v1::App& app, const EventData& event,
                                               absl::Time now) {
  // Every key still signing at `now`, in the app's order (the current key comes first). An
  // expired key is dropped even before the app cache catches up, so a grace period ends on
  // time.
  std::vector<std::string_view> secrets;
  for (const v1::SigningKey& key : app.signing_keys()) {
    if (key.secret().empty()) continue;
    if (key.has_expire_time() && ToAbslTime(key.expire_time()) <= now) continue;
    secrets.push_back(key.secret());
  }
  if (secrets.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("app ", app.id(), ": no valid signing key with a secret"));
  }

  http::HttpRequest request;
  request.url = app.url();
  HOOKD_ASSIGN_OR_RETURN(request.body, Body(app, event, secrets.front()));
  request.timeout = app.has_timeout() && ToAbslDuration(app.timeout()) > absl::ZeroDuration()
                        ? ToAbslDuration(app.timeout())
                        : kDefaultTimeout;

  auto& headers = request.headers;
  headers.emplace_back("content-type", "application/json");
  const dialect::SignInput input{
      .id = event.id, .event_type = event.event_type, .now = now, .body = request.body};
  absl::StatusOr<std::vector<v1::SignatureProfile>> profiles = dialect::EffectiveProfiles(app);
  if (!profiles.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("app ", app.id(), ": ", profiles.status().message()));
  }
  for (const v1::SignatureProfile& profile : *profiles) {
    absl::Status appended = dialect::AppendHeaders(profile, secrets, input, headers);
    if (!appended.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("app ", app.id(), ": ", appended.message()));
    }
  }
  if (!event.traceparent.empty()) headers.emplace_back("traceparent", event.traceparent);
  // A protobuf map iterates in no fixed order; sorting keeps requests reproducible.
  const std::map<std::string, std::string> custom(app.headers().begin(), app.headers().end());
  for (const auto& [name, value] : custom) headers.emplace_back(name, value);
  if (app.auth().has_basic()) {
    const v1::BasicAuth& basic = app.auth().basic();
    headers.emplace_back("authorization",
                         absl::StrCat("Basic ", Base64Encode(absl::StrCat(basic.username(), ":",
                                                                          basic.password()))));
  }
  return request;
}

v1::AttemptError BuildErrorOf(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition ? v1::ATTEMPT_ERROR_PAYLOAD_TEMPLATE
                                                                : v1::ATTEMPT_ERROR_INTERNAL;
}

}  // namespace hookd::delivery
