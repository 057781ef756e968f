#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/http/http_sender.h"
#include "hookd/v1/app.pb.h"

namespace hookd::delivery {

// What a worker knows of the event it delivers.
struct EventData {
  std::string id;           // evt_...: the webhook-id of every attempt
  std::string event_type;   // e.g. video.ready
  std::string payload;      // the published JSON object, byte for byte
  absl::Time create_time;   // when it was published: the envelope's "timestamp"
  std::string traceparent;  // W3C trace context of the publisher, or ""
};

// The Standard Webhooks envelope {"type":...,"timestamp":...,"data":<payload>}; the payload is
// embedded as published, not re-serialized, and the timestamp is RFC 3339 UTC.
std::string Envelope(const EventData& event);

// The body for `app`: the envelope, or the raw payload for PAYLOAD_FORMAT_RAW.
std::string Body(const v1::App& app, const EventData& event);

// The whole request for one attempt at `now` (the app must come with its secrets, as workers
// receive it): body; content-type application/json; webhook-id; webhook-timestamp (unix seconds
// of `now`); webhook-signature with one entry per valid signing key, current key first,
// space-separated: `v1,<sig>` for a whsec_ secret, `v1a,<sig>` for a whsk_ one; the compat
// `sha256=<hex>` header, keyed by the first valid whsec_ key, when the app names one and has such
// a key; traceparent when the publisher sent one; the app's custom headers; basic auth; the
// app's timeout. INVALID_ARGUMENT when the app has no valid signing key, a malformed secret, or
// a secret with neither prefix.
absl::StatusOr<http::HttpRequest> BuildRequest(const v1::App& app, const EventData& event,
                                               absl::Time now);

}  // namespace hookd::delivery
