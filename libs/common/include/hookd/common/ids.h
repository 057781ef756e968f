#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace hookd {

// Returns `<prefix>_<ULID>`: 26 Crockford base32 characters, 48 bits of milliseconds then 80
// random bits. Ids made later sort after earlier ones; within one millisecond of one process the
// random part is incremented, so ids stay strictly increasing there too.
std::string NewId(std::string_view prefix);

// The state behind NewId, as a class so tests can run their own clock against a fresh one.
class IdGenerator {
 public:
  // Like NewId at `time`; a time before the last one used is taken as the last one, so ids of
  // one generator never go backwards when the clock does.
  std::string Next(std::string_view prefix, absl::Time time);

 private:
  std::mutex mu_;
  uint64_t last_ms_ = 0;
  std::array<uint8_t, 10> last_random_{};
};

// The smallest id of `prefix` made at `time` (random part all zero): ids are sorted by time, so
// a time range is an id range that an index on the id answers.
std::string IdLowerBoundAt(std::string_view prefix, absl::Time time);

// When `id` (`<prefix>_<ULID>`) was made, to the millisecond; nullopt when it is not such an id.
std::optional<absl::Time> IdTime(std::string_view id);

// Whether `id` is `<prefix>_` followed by a well-formed ULID.
bool IsValidId(std::string_view id, std::string_view prefix);

}  // namespace hookd
