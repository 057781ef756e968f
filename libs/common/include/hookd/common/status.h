#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Status helpers shared by every library. Abseil 20220623 has no public status macros, so the two
// we need live here.

#define HOOKD_STATUS_CONCAT_INNER_(a, b) a##b
#define HOOKD_STATUS_CONCAT_(a, b) HOOKD_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define HOOKD_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status hookd_status_ = (expr);         \
    if (!hookd_status_.ok()) return hookd_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status on error, else moves the value
// into `lhs`, which may be a declaration.
#define HOOKD_ASSIGN_OR_RETURN(lhs, rexpr) \
  HOOKD_ASSIGN_OR_RETURN_IMPL_(HOOKD_STATUS_CONCAT_(hookd_statusor_, __LINE__), lhs, rexpr)
#define HOOKD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

namespace hookd {

// INVALID_ARGUMENT whose message starts with the offending field, "field: problem", so that
// clients and tests can tell which input was refused.
absl::Status InvalidField(std::string_view field, std::string_view problem);

// An id a client sent (app, delivery, event, token): INVALID_ARGUMENT naming `field` when it is
// empty, longer than 128 bytes (no hookd id is) or holds a character outside printable ASCII,
// checked before any work, so that no lookup, log line or error message carries a hostile one.
absl::Status RequireId(std::string_view id, std::string_view field);

}  // namespace hookd
