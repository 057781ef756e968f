#include "hookd/apps/routing.h"

#include "hookd/apps/validation.h"
#include "hookd/common/proto_time.h"

namespace hookd::apps {

bool AppMatches(const v1::App& app, std::string_view event_type,
                const std::vector<std::string>& channels) {
  bool subscribed = false;
  for (const std::string& pattern : app.event_types()) {
    if (PatternMatches(pattern, event_type)) {
      subscribed = true;
      break;
    }
  }
  if (!subscribed) return false;
  if (app.channels().empty()) return true;
  for (const std::string& wanted : app.channels()) {
    for (const std::string& channel : channels) {
      if (wanted == channel) return true;
    }
  }
  return false;
}

absl::Time DueTime(const v1::App& app, absl::Time deliver_at) {
  return deliver_at + ToAbslDuration(app.delivery_delay());
}

}  // namespace hookd::apps
