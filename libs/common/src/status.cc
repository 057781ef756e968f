#include "hookd/common/status.h"

#include <string>

namespace hookd {

absl::Status InvalidField(std::string_view field, std::string_view problem) {
  std::string message(field);
  message.append(": ").append(problem);
  return absl::InvalidArgumentError(message);
}

absl::Status RequireId(std::string_view id, std::string_view field) {
  if (id.empty()) return InvalidField(field, "required");
  if (id.size() > 128) return InvalidField(field, "at most 128 characters");
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return InvalidField(field, "printable ASCII only");
  }
  return absl::OkStatus();
}

}  // namespace hookd
