#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "hookd/appcache/event_type_catalog.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd::ingest {

struct PublishLimits {
  size_t max_payload_bytes = 256 * 1024;
};

// Checks a publish request at `now`, with `prefix` before every field name ("" for Publish).
// Returns the
// first violation: INVALID_ARGUMENT naming the field, RESOURCE_EXHAUSTED for an oversized
// payload. The event type is checked against `catalog`; a type it does not know triggers one
// refresh first, since it may have been created a moment ago.
absl::Status ValidatePublish(const v1::PublishRequest& request, const PublishLimits& limits,
                             appcache::EventTypeCatalog& catalog, const std::string& prefix,
                             absl::Time now);

// The checks of ValidatePublish that need no catalog: every field but the event type's place in
// the catalog and its schema.
absl::Status ValidatePublishFields(const v1::PublishRequest& request, const PublishLimits& limits,
                                   const std::string& prefix, absl::Time now);

// Checks deliver_at and deliver_after at `now`: not both, deliver_at from 2000 to 7 days ahead,
// deliver_after 0 .. 7 days. INVALID_ARGUMENT naming the field (with `prefix`).
absl::Status ValidateSchedule(const v1::PublishRequest& request, const std::string& prefix,
                              absl::Time now);

// When a valid request asks its deliveries to be made: deliver_at (a past one is `now`),
// `now` + deliver_after, or `now`.
absl::Time DeliverAt(const v1::PublishRequest& request, absl::Time now);

// Whether `payload` is one JSON object (and nothing after it). Thread-safe.
absl::Status ValidateJsonObject(const std::string& payload, const std::string& field);

}  // namespace hookd::ingest
