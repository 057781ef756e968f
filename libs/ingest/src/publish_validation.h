#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "hookd/appcache/event_type_catalog.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd::ingest {

struct PublishLimits {
  size_t max_payload_bytes = 256 * 1024;
};

// Checks a publish request, with `prefix` before every field name ("" for Publish). Returns the
// first violation: INVALID_ARGUMENT naming the field, RESOURCE_EXHAUSTED for an oversized
// payload. The event type is checked against `catalog`; a type it does not know triggers one
// refresh first, since it may have been created a moment ago.
absl::Status ValidatePublish(const v1::PublishRequest& request, const PublishLimits& limits,
                             appcache::EventTypeCatalog& catalog, const std::string& prefix = "");

// Whether `payload` is one JSON object (and nothing after it). Thread-safe.
absl::Status ValidateJsonObject(const std::string& payload, const std::string& field);

}  // namespace hookd::ingest
