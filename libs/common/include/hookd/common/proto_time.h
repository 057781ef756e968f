#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

// google.protobuf.Timestamp and Duration as Abseil's types: one conversion for every library
// (callers check ranges where a client sent the value).

namespace hookd {

inline absl::Time ToAbslTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline absl::Duration ToAbslDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// A time a client sent: nullopt when not `present`; INVALID_ARGUMENT naming `field` outside RFC
// 3339's range, as google.protobuf.Timestamp documents it.
absl::StatusOr<std::optional<absl::Time>> OptionalTime(const google::protobuf::Timestamp& t,
                                                       bool present, std::string_view field);

}  // namespace hookd
