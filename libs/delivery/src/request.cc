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
  // Keys still signing at `now`, in the app's order (the current key comes first). An expired
  // key is dropped even before the app cache catches up, so a rotation's grace period ends on
  // time.
  std::vector<std::string> keys;
  for (int i = 0; i < app.signing_keys_size(); ++i) {
    const v1::SigningKey& key = app.signing_keys(i);
    if (key.secret().empty()) continue;
    if (key.has_expire_time() && FromProto(key.expire_time()) <= now) continue;
    absl::StatusOr<std::string> bytes = DecodeSigningSecret(key.secret());
    if (!bytes.ok()) {
      // The decoder's message is not passed on: nothing about a secret belongs in a log line.
      return absl::InvalidArgumentError(
          absl::StrCat("app ", app.id(), ": signing key ", key.id(), " has a malformed secret"));
    }
    keys.push_back(*std::move(bytes));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("app ", app.id(), ": no valid signing key with a secret"));
  }

  http::HttpRequest request;
  request.url = app.url();
  request.body = Body(app, event);
  request.timeout = app.has_timeout() && FromProto(app.timeout()) > absl::ZeroDuration()
                        ? FromProto(app.timeout())
                        : kDefaultTimeout;

  const int64_t timestamp = absl::ToUnixSeconds(now);
  std::string signature;
  for (const std::string& key : keys) {
    if (!signature.empty()) signature += ' ';
    signature += SignV1(key, event.id, timestamp, request.body);
  }

  auto& headers = request.headers;
  headers.emplace_back("content-type", "application/json");
  headers.emplace_back("webhook-id", event.id);
  headers.emplace_back("webhook-timestamp", absl::StrCat(timestamp));
  headers.emplace_back("webhook-signature", std::move(signature));
  if (!app.compat_signature_header().empty()) {
    // GitHub-style receivers sign the body alone and know only one secret: the current one.
    headers.emplace_back(
        app.compat_signature_header(),
        absl::StrCat("sha256=", HexEncode(HmacSha256(keys.front(), request.body))));
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
