#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hookd::subscription {

// Page tokens are opaque to clients: base64 of the filters they were issued for and the cursor.
// A token replayed with other filters is refused instead of silently skipping rows.
std::string EncodePageToken(std::string_view filters, std::string_view cursor);

// The cursor inside `token`, or "" for an empty token. INVALID_ARGUMENT naming `page_token` when
// it is malformed or was issued for other filters.
absl::StatusOr<std::string> DecodePageToken(std::string_view token, std::string_view filters);

// The page size to use: `requested`, or `default_size` when 0, capped at `max_size`.
// INVALID_ARGUMENT naming `page_size` when negative.
absl::StatusOr<int> ResolvePageSize(int requested, int default_size, int max_size);

}  // namespace hookd::subscription
