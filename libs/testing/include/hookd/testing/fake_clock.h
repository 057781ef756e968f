#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "hookd/common/clock.h"

namespace hookd::testing {

// A Clock that stands still until the test moves it; safe to read from the code's threads while
// the test sets it.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now) : micros_(absl::ToUnixMicros(now)) {}
  absl::Time Now() const override { return absl::FromUnixMicros(micros_.load()); }
  void Set(absl::Time now) { micros_.store(absl::ToUnixMicros(now)); }
  void Advance(absl::Duration by) { micros_.fetch_add(absl::ToInt64Microseconds(by)); }

 private:
  std::atomic<int64_t> micros_;
};

}  // namespace hookd::testing
