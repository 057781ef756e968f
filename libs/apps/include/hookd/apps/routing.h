#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "hookd/v1/app.pb.h"

// Which apps receive an event, and when: the rules hookd-ingest routes published events by and
// hookd's operational events are routed by (README, "hookctl": an app subscribes to event type
// patterns and, optionally, channels).

namespace hookd::apps {

// Whether `app` subscribes to an event of `event_type` published on `channels`: one of its
// patterns matches the type, and it shares a channel when it lists any. Whether it is active is
// not asked: a disabled app's deliveries are made HELD.
bool AppMatches(const v1::App& app, std::string_view event_type,
                const std::vector<std::string>& channels);

// When `app`'s delivery of an event to be delivered at `deliver_at` is due: after the app's
// delivery_delay.
absl::Time DueTime(const v1::App& app, absl::Time deliver_at);

}  // namespace hookd::apps
