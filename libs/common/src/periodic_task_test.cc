#include "hookd/common/periodic_task.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hookd/testing/testing.h"

namespace hookd {
namespace {

using testing::PollUntil;

TEST(PeriodicTask, RunsAtOnceThenAfterEachWaitUntilStopped) {
  std::atomic<int> runs{0};
  PeriodicTask task([&] {
    ++runs;
    return absl::Milliseconds(runs.load() < 3 ? 1 : 3600'000);  // then an hour
  });
  task.Start();
  task.Start();  // running already: nothing
  ASSERT_TRUE(PollUntil([&] { return runs.load() == 3; }));
  const absl::Time stop = absl::Now();
  task.Stop();  // wakes the hour's wait at once
  EXPECT_LT(absl::Now() - stop, absl::Seconds(5));
  EXPECT_TRUE(task.stopping());
  EXPECT_FALSE(task.Wait(absl::Hours(1)));  // stopped: no wait
  EXPECT_EQ(runs.load(), 3);
}

// Stop returns only once a tick under way has ended: after it, nothing of the task runs.
TEST(PeriodicTask, StopWaitsForTheRunningTick) {
  absl::Notification entered, release;
  std::atomic<bool> finished{false};
  PeriodicTask task([&] {
    entered.Notify();
    release.WaitForNotification();
    finished = true;
    return absl::Hours(1);
  });
  task.Start();
  entered.WaitForNotification();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    task.Stop();
    stopped = true;
  });
  // Stop cannot return while the tick blocks; once released, it does.
  EXPECT_FALSE(PollUntil([&] { return stopped.load(); }, absl::Milliseconds(200)));
  release.Notify();
  stopper.join();
  EXPECT_TRUE(finished.load());
}

TEST(PeriodicTask, StartsAgainAfterStop) {
  std::atomic<int> runs{0};
  PeriodicTask task([&] {
    ++runs;
    return absl::Hours(1);
  });
  task.Start();
  ASSERT_TRUE(PollUntil([&] { return runs.load() == 1; }));
  task.Stop();
  task.Start();
  ASSERT_TRUE(PollUntil([&] { return runs.load() == 2; }));
  EXPECT_FALSE(task.stopping());
}

}  // namespace
}  // namespace hookd
