#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "hookd/auth/permissions.h"

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

// The tenant a listing (or watch) is of: `requested`, checked as a tenant name (INVALID_ARGUMENT
// naming `tenant`), or the token's own when empty; another than the token's is
// PERMISSION_DENIED (auth::Access::Filter).
absl::StatusOr<std::string> ListedTenant(const auth::Access& access, const std::string& requested);

// The optional [since, until) of a listing's request (`since` and `until` fields):
// INVALID_ARGUMENT naming the field when one is not a valid time, or `until` is not after
// `since`.
struct ListWindow {
  std::optional<absl::Time> since;
  std::optional<absl::Time> until;
  // The window as part of a page token's filters.
  std::string Key() const;
};
absl::StatusOr<ListWindow> CheckListWindow(const google::protobuf::Timestamp& since, bool has_since,
                                           const google::protobuf::Timestamp& until,
                                           bool has_until);

}  // namespace hookd::subscription
