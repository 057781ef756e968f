#include "page_token.h"

#include "hookd/apps/validation.h"
#include "hookd/common/proto_time.h"
#include "hookd/common/status.h"
#include "hookd/crypto/base64.h"

namespace hookd::subscription {
namespace {
constexpr std::string_view kVersion = "p1";
}  // namespace

std::string EncodePageToken(std::string_view filters, std::string_view cursor) {
  std::string raw(kVersion);
  raw.append("\n").append(filters).append("\n").append(cursor);
  return Base64Encode(raw);
}

absl::StatusOr<std::string> DecodePageToken(std::string_view token, std::string_view filters) {
  if (token.empty()) return std::string();
  auto raw = Base64Decode(token);
  if (!raw.ok()) return InvalidField("page_token", "malformed");
  std::string_view rest = *raw;
  size_t first = rest.find('\n');
  size_t last = rest.rfind('\n');
  if (first == std::string_view::npos || first == last || rest.substr(0, first) != kVersion) {
    return InvalidField("page_token", "malformed");
  }
  if (rest.substr(first + 1, last - first - 1) != filters) {
    return InvalidField("page_token", "was issued for other filters");
  }
  return std::string(rest.substr(last + 1));
}

absl::StatusOr<int> ResolvePageSize(int requested, int default_size, int max_size) {
  if (requested < 0) return InvalidField("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min(requested, max_size);
}

absl::StatusOr<ListWindow> CheckListWindow(const google::protobuf::Timestamp& since, bool has_since,
                                           const google::protobuf::Timestamp& until,
                                           bool has_until) {
  ListWindow window;
  HOOKD_ASSIGN_OR_RETURN(window.since, OptionalTime(since, has_since, "since"));
  HOOKD_ASSIGN_OR_RETURN(window.until, OptionalTime(until, has_until, "until"));
  if (window.since && window.until && *window.until <= *window.since) {
    return InvalidField("until", "must be after since");
  }
  return window;
}

std::string ListWindow::Key() const {
  return (since ? absl::FormatTime(*since) : "") + "|" + (until ? absl::FormatTime(*until) : "");
}

absl::StatusOr<std::string> ListedTenant(const auth::Access& access, const std::string& requested) {
  if (!requested.empty()) HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(requested, "tenant"));
  return access.Filter(requested);
}

}  // namespace hookd::subscription
