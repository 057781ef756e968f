#pragma once

#include <string>

#include "absl/time/time.h"

namespace hookd::ledger {

// An event as stored and as a worker delivers it.
struct EventData {
  std::string id;           // evt_...: the webhook-id of every attempt
  std::string event_type;   // e.g. video.ready
  std::string payload;      // the published JSON object, byte for byte
  absl::Time create_time;   // when it was published: the envelope's "timestamp"
  std::string traceparent;  // W3C trace context of the publisher, or ""
};

}  // namespace hookd::ledger
