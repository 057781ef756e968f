#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

// Payload templates (README, "Payload templates"): a JSON document in which a string that is
// exactly "{{name}}" stands for a whole JSON value, and a member "...": "{{payload}}" merges the
// published object's members into the object holding it. For receivers whose body is not the
// Standard Webhooks envelope: VideoPilot's {"event","data","timestamp"}, Targetvideo's payload
// with "timestamp" and "secret" added.

namespace hookd::dialect {

// At most this many bytes of template text, and this depth of nesting.
inline constexpr size_t kMaxTemplateBytes = 16 * 1024;
inline constexpr int kMaxTemplateDepth = 32;

// What the placeholders stand for.
struct TemplateValues {
  std::string_view event_type;  // {{event_type}}: a JSON string
  std::string_view event_id;    // {{event_id}}: a JSON string
  absl::Time time;              // {{timestamp}} (RFC 3339), {{timestamp_unix}}, {{timestamp_ms}}
  std::string_view payload;     // {{payload}}: the published JSON, byte for byte
  std::string_view secret;      // {{secret}}: the app's current shared secret; "" when it has none
};

// Whether the template text uses {{secret}} (checked against the app's kind of key).
bool UsesSecret(std::string_view text);

// Checks a template: at most 16 KiB, JSON, nested at most 32 deep, only known placeholders, each
// a whole JSON string, "..." members only as "...": "{{payload}}"; then renders it for a sample
// event. INVALID_ARGUMENT naming `field` with the byte offset or the JSON pointer of the problem.
absl::Status ValidatePayloadTemplate(std::string_view text, std::string_view field);

// The body for one event. INVALID_ARGUMENT when the template is invalid, "..." merges a payload
// that is not an object or a member the object already has, or {{secret}} is used without a
// shared secret. The message names the JSON pointer and member, never a value.
absl::StatusOr<std::string> RenderPayloadTemplate(std::string_view text,
                                                  const TemplateValues& values);

}  // namespace hookd::dialect
