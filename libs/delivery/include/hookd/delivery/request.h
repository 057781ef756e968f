#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/http/http_sender.h"
#include "hookd/ledger/event.h"
#include "hookd/v1/app.pb.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::delivery {

// What a worker knows of the event it delivers: the event as the delivery ledger stores it.
using EventData = ledger::EventData;

// The Standard Webhooks envelope {"type":...,"timestamp":...,"data":<payload>}; the payload is
// embedded as published, not re-serialized, and the timestamp is RFC 3339 UTC.
std::string Envelope(const EventData& event);

// The body for `app`: the envelope, the raw payload (PAYLOAD_FORMAT_RAW), or the app's payload
// template rendered with `secret` (its current key) for {{secret}}. FAILED_PRECONDITION when the
// template cannot be rendered for this event.
absl::StatusOr<std::string> Body(const v1::App& app, const EventData& event,
                                 std::string_view secret);

// The whole request for one attempt at `now` (the app must come with its secrets, as workers
// receive it): the body; content-type application/json; the headers of each of the app's
// signature profiles in order (by default the Standard Webhooks webhook-id, webhook-timestamp
// and webhook-signature, with a `v1,`/`v1a,` entry per valid key, current key first), each
// signature computed over the exact body sent; traceparent when the publisher sent one; the
// app's custom headers; basic auth; the app's timeout. FAILED_PRECONDITION when the payload
// template cannot be rendered for this event; INVALID_ARGUMENT when the app has no valid signing
// key, a malformed secret, or a profile that none of its keys can sign for.
absl::StatusOr<http::HttpRequest> BuildRequest(const v1::App& app, const EventData& event,
                                               absl::Time now);

// The attempt error a BuildRequest failure is logged with: ATTEMPT_ERROR_PAYLOAD_TEMPLATE for a
// template that could not be rendered, ATTEMPT_ERROR_INTERNAL otherwise.
v1::AttemptError BuildErrorOf(const absl::Status& status);

}  // namespace hookd::delivery
