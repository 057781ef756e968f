#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// JSON Schema (draft 7) checks of published payloads (README, "Event type schemas"), on
// valijson. Validators crash on hostile schemas and inputs, so a schema is refused before it
// reaches valijson when it is over 64 KiB, nests deeper than 32 levels, or uses `pattern` or
// `patternProperties` (valijson runs them on std::regex, whose backtracking overflows the stack
// on long payload strings). `format` is an annotation, as draft 7 allows: valijson would check
// dates with std::regex over payload data too.

namespace hookd::schema {

inline constexpr size_t kMaxSchemaBytes = 64 * 1024;
inline constexpr int kMaxSchemaDepth = 32;

class CompiledSchema {
 public:
  // Checks and compiles `text`. INVALID_ARGUMENT naming `field` with the limit it breaks, the
  // JSON pointer of a refused keyword, or the validator's message.
  static absl::StatusOr<std::shared_ptr<const CompiledSchema>> Compile(std::string_view text,
                                                                       std::string_view field);
  ~CompiledSchema();

  // Checks `payload` (a JSON document). INVALID_ARGUMENT whose message starts with `field` and
  // the JSON pointer of the most deeply nested failing value (the most precise of valijson's
  // errors), then the rule, e.g.
  // "payload/video/status: Failed to match against any enum values." (the rule in valijson's
  // words).
  absl::Status Validate(std::string_view payload, std::string_view field) const;

 private:
  struct Impl;
  explicit CompiledSchema(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hookd::schema
