#include "hookd/common/proto_time.h"

#include "hookd/common/status.h"

namespace hookd {

absl::StatusOr<std::optional<absl::Time>> OptionalTime(const google::protobuf::Timestamp& t,
                                                       bool present, std::string_view field) {
  if (!present) return std::optional<absl::Time>();
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return InvalidField(field, "not a valid timestamp");
  }
  return std::optional<absl::Time>(ToAbslTime(t));
}

}  // namespace hookd
