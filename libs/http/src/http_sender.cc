#include "hookd/http/http_sender.h"

#include "absl/strings/match.h"

namespace hookd::http {

std::string HttpResult::Header(const std::string& name) const {
  // Names are stored lower-cased; comparing without case also forgives a caller's "Retry-After".
  for (const auto& [header_name, value] : headers) {
    if (absl::EqualsIgnoreCase(header_name, name)) return value;
  }
  return "";
}

}  // namespace hookd::http
