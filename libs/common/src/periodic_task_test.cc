#include "hookd/common/periodic_task.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace hookd {
namespace {

TEST(PeriodicTask, RunsAtOnceThenAfterEachWaitUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicTask task([&] {
    ++runs;
    return absl::Milliseconds(runs.load() < 3 ? 1 : 3600'000);  // then an hour
  });
  task.Start();
  task.Start();  // running already: nothing
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (runs.load() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(runs.load(), 3);
  const absl::Time stop = absl::Now();
  task.Stop();  // wakes the hour's wait at once
  EXPECT_LT(absl::Now() - stop, absl::Seconds(5));
  EXPECT_TRUE(task.stopping());
  EXPECT_FALSE(task.Wait(absl::Hours(1)));  // stopped: no wait
  EXPECT_EQ(runs.load(), 3);
}

TEST(PeriodicTask, StartsAgainAfterStop) {
  std::atomic<int> runs{0};
  PeriodicTask task([&] {
    ++runs;
    return absl::Hours(1);
  });
  task.Start();
  task.Stop();
  const int first = runs.load();
  EXPECT_LE(first, 1);
  task.Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (runs.load() == first && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(runs.load(), first + 1);
  EXPECT_FALSE(task.stopping());
}

}  // namespace
}  // namespace hookd
