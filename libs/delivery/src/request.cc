#include "hookd/delivery/request.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "hookd/crypto/base64.h"
#include "hookd/crypto/signing.h"

namespace hookd::delivery {
namespace {

constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// Escapes `text` as the inside of a JSON string. UTF-8 passes through unchanged: receivers
// verify the signature over our exact bytes, so there is no reason to re-encode non-ASCII.
std::string JsonEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

// RFC 3339 in UTC; milliseconds only when there are any, so whole-second times keep the short
// form that receivers (and the reference vectors) most often show.
std::string Rfc3339(absl::Time time) {
  const bool whole_second = time == absl::FromUnixSeconds(absl::ToUnixSeconds(time));
  return absl::FormatTime(whole_second ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%E3SZ", time,
                          absl::UTCTimeZone());
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

absl::Duration FromProto(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

}  // namespace

std::string Envelope(const EventData& event) {
  return absl::StrCat("{\"type\":\"", JsonEscape(event.event_type), "\",\"timestamp\":\"",
                      Rfc3339(event.create_time), "\",\"data\":", event.payload, "}");
}

std::string Body(const v1::App& app, const EventData& event) {
  if (app.payload_format() == v1::PAYLOAD_FORMAT_RAW) return event.payload;
  return Envelope(event);
}

absl::StatusOr<http::HttpRequest> BuildRequest(const v1::App& app, const EventData& event,
                                               absl::Time now) {
  http::HttpRequest request;
  request.url = app.url();
  request.body = Body(app, event);
  request.timeout = app.has_timeout() && FromProto(app.timeout()) > absl::ZeroDuration()
                        ? FromProto(app.timeout())
                        : kDefaultTimeout;
  const int64_t timestamp = absl::ToUnixSeconds(now);

  // One entry per key still signing at `now`, in the app's order (the current key comes first),
  // each in the scheme its secret's prefix names: during a change of scheme the old and the new
  // key sign side by side. An expired key is dropped even before the app cache catches up, so a
  // grace period ends on time. Error messages never pass on a decoder's message: nothing about
  // a secret belongs in a log line.
  std::string signature;
  std::optional<std::string> hmac_key;  // the first whsec_ key's bytes, for the compat header
  for (int i = 0; i < app.signing_keys_size(); ++i) {
    const v1::SigningKey& key = app.signing_keys(i);
    const std::string_view secret = key.secret();
    if (secret.empty()) continue;
    if (key.has_expire_time() && FromProto(key.expire_time()) <= now) continue;
    std::string entry;
    if (secret.starts_with(kSigningSecretPrefix)) {
      absl::StatusOr<std::string> bytes = DecodeSigningSecret(secret);
      if (!bytes.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("app ", app.id(), ": signing key ", key.id(), " has a malformed secret"));
      }
      entry = SignV1(*bytes, event.id, timestamp, request.body);
      if (!hmac_key.has_value()) hmac_key = *std::move(bytes);
    } else if (secret.starts_with(kEd25519SecretPrefix)) {
      absl::StatusOr<std::string> signed_entry = SignV1a(secret, event.id, timestamp, request.body);
      if (!signed_entry.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("app ", app.id(), ": signing key ", key.id(), " has a malformed secret"));
      }
      entry = *std::move(signed_entry);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("app ", app.id(), ": signing key ", key.id(),
                                                     " has a secret of no known kind (want whsec_ "
                                                     "or whsk_)"));
    }
    if (!signature.empty()) signature += ' ';
    signature += entry;
  }
  if (signature.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("app ", app.id(), ": no valid signing key with a secret"));
  }

  auto& headers = request.headers;
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("webhook-id", event.id);
  headers.emplace_back("webhook-timestamp", absl::StrCat(timestamp));
  headers.emplace_back("webhook-signature", std::move(signature));
  // GitHub-style receivers sign the body alone and know only one secret: the current HMAC one,
  // so only a whsec_ key can make this header. Validation refuses a compat header on an app
  // without one, so an app here with none (stored before that rule, say) gets no compat header
  // rather than a refused delivery: its webhook-signature still authenticates the request.
  if (!app.compat_signature_header().empty() && hmac_key.has_value()) {
    headers.emplace_back(app.compat_signature_header(),
                         absl::StrCat("sha256=", HexEncode(HmacSha256(*hmac_key, request.body))));
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

}  // namespace hookd::delivery
