#pragma once

#include "absl/time/time.h"

namespace hookd {

// The time hookd's decisions are made against: when a token expires, when a delivery is due
// (its delay, its next retry), how long an unknown app is waited for, which days retention
// drops. A service takes one in its options (the real clock unless a test gives a
// testing::FakeClock), so that a test sets the time instead of waiting for it. Waits, deadlines
// and measured durations keep absl::Now().
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The system's clock (absl::Now()); lives as long as the process.
  static const Clock& Real();
};

}  // namespace hookd
