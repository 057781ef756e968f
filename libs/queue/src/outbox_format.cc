#include "hookd/queue/outbox_format.h"

#include "absl/strings/str_split.h"

namespace hookd::queue {

std::string EncodeOutbox(const std::vector<DeliveryMessage>& messages) {
  std::string text;
  for (const auto& m : messages) {
    text.append(m.delivery_id).append(" ").append(m.event_id).append(" ").append(m.app_id);
    text.push_back('\n');
  }
  return text;
}

absl::StatusOr<std::vector<DeliveryMessage>> DecodeOutbox(const std::string& text) {
  std::vector<DeliveryMessage> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() != 3) return absl::DataLossError("outbox: malformed line");
    out.push_back({.delivery_id = fields[0], .event_id = fields[1], .app_id = fields[2]});
  }
  return out;
}

}  // namespace hookd::queue
