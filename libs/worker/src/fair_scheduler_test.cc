#include "fair_scheduler.h"

#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hookd::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Scheduler = FairScheduler<int>;

std::vector<std::string> Apps(const std::vector<std::pair<std::string, int>>& started) {
  std::vector<std::string> apps;
  for (const auto& [app, item] : started) apps.push_back(app);
  return apps;
}

TEST(FairSchedulerTest, AnAppRunsAtMostItsShare) {
  Scheduler scheduler({.max_running = 10, .max_running_per_app = 3, .max_waiting_per_app = 100});
  for (int i = 0; i < 8; ++i) scheduler.Push("slow", 0, i);
  auto started = scheduler.TakeStartable();
  ASSERT_EQ(started.size(), 3u);
  EXPECT_EQ(started[0].second, 0);
  EXPECT_EQ(started[2].second, 2);
  EXPECT_EQ(scheduler.running(), 3);
  EXPECT_EQ(scheduler.waiting(), 5);
  // Its backlog takes none of the other 7 slots.
  EXPECT_EQ(scheduler.Blocked(), 5);
  EXPECT_THAT(scheduler.TakeStartable(), IsEmpty());

  scheduler.Done("slow");
  started = scheduler.TakeStartable();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].second, 3);
}

TEST(FairSchedulerTest, FreeSlotsGoRoundRobin) {
  Scheduler scheduler({.max_running = 2, .max_running_per_app = 2, .max_waiting_per_app = 100});
  for (int i = 0; i < 4; ++i) scheduler.Push("hot", 0, i);
  scheduler.Push("quiet", 1, 100);
  scheduler.Push("other", 2, 200);
  // hot, quiet: one each in turn, not hot's whole backlog first.
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("hot", "quiet"));
  // hot may start one more of its 3 (its share is 2), other its 1, when slots free.
  EXPECT_EQ(scheduler.Blocked(), 2);
  scheduler.Done("hot");
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("other"));
  scheduler.Done("quiet");
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("hot"));
  scheduler.Push("quiet", 1, 101);
  scheduler.Done("other");
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("hot"));
  scheduler.Done("hot");
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("quiet"));
}

TEST(FairSchedulerTest, AFullLanePausesItsPartitionOnly) {
  Scheduler scheduler({.max_running = 4, .max_running_per_app = 1, .max_waiting_per_app = 3});
  for (int i = 0; i < 3; ++i) scheduler.Push("slow", 5, i);
  scheduler.Push("quiet", 2, 9);
  EXPECT_THAT(scheduler.FullPartitions(), ElementsAre(5));
  scheduler.TakeStartable();  // slow 0 and quiet 9 run; slow holds 2 waiting
  EXPECT_THAT(scheduler.FullPartitions(), IsEmpty());
  scheduler.Push("slow", 5, 3);
  EXPECT_THAT(scheduler.FullPartitions(), ElementsAre(5));
  scheduler.Done("slow");
  scheduler.TakeStartable();
  EXPECT_THAT(scheduler.FullPartitions(), IsEmpty());
}

TEST(FairSchedulerTest, RemovesWaitingItemsAndForgetsIdleApps) {
  Scheduler scheduler({.max_running = 1, .max_running_per_app = 1, .max_waiting_per_app = 100});
  for (int i = 0; i < 5; ++i) scheduler.Push("a", 0, i);
  scheduler.Push("b", 1, 10);
  ASSERT_EQ(scheduler.TakeStartable().size(), 1u);  // a 0
  std::vector<int> removed = scheduler.RemoveWaitingIf([](int item) { return item % 2 == 0; });
  EXPECT_THAT(removed, UnorderedElementsAre(2, 4, 10));
  EXPECT_EQ(scheduler.waiting(), 2);
  scheduler.Done("a");
  EXPECT_THAT(Apps(scheduler.TakeStartable()), ElementsAre("a"));
  // Everything goes: nothing is left to start, and nothing is listed for a turn.
  EXPECT_THAT(scheduler.RemoveWaitingIf([](int) { return true; }), ElementsAre(3));
  scheduler.Done("a");
  EXPECT_THAT(scheduler.TakeStartable(), IsEmpty());
  EXPECT_EQ(scheduler.running(), 0);
  EXPECT_EQ(scheduler.waiting(), 0);
  EXPECT_EQ(scheduler.Blocked(), 0);
}

// Blocked and FullPartitions are kept incrementally: after every step of a random workload they
// equal a recount over a model of the lanes (and each app's deliveries start in order).
TEST(FairSchedulerTest, BlockedAndFullPartitionsMatchARecountThroughoutARandomWorkload) {
  constexpr int kCap = 3, kFull = 5;
  Scheduler scheduler(
      {.max_running = 7, .max_running_per_app = kCap, .max_waiting_per_app = kFull});
  std::mt19937 random(7);
  std::map<std::string, std::deque<int>> waiting;
  std::map<std::string, int> running;
  const std::vector<std::string> apps = {"a", "b", "c", "d"};
  auto partition_of = [](const std::string& app) { return app == "d" ? 0 : app[0] - 'a'; };
  auto dropped = [](int item) { return item % 3 == 0; };
  for (int step = 0; step < 5000; ++step) {
    const std::string& app = apps[random() % apps.size()];
    const unsigned action = random() % 20;
    if (action < 10) {
      scheduler.Push(app, partition_of(app), step);
      waiting[app].push_back(step);
    } else if (action < 19) {
      if (running[app] > 0) {
        scheduler.Done(app);
        --running[app];
      }
    } else {
      scheduler.RemoveWaitingIf(dropped);
      for (auto& [a, items] : waiting) std::erase_if(items, dropped);
    }
    for (auto& [started, item] : scheduler.TakeStartable()) {
      ASSERT_FALSE(waiting[started].empty()) << "step " << step;
      ASSERT_EQ(waiting[started].front(), item) << "step " << step;
      waiting[started].pop_front();
      ++running[started];
    }
    int blocked = 0;
    std::set<int> full;
    for (const auto& [a, items] : waiting) {
      const int w = static_cast<int>(items.size());
      blocked += std::max(0, w - std::max(0, kCap - running[a]));
      if (w >= kFull) full.insert(partition_of(a));
    }
    ASSERT_EQ(scheduler.Blocked(), blocked) << "step " << step;
    ASSERT_EQ(scheduler.FullPartitions(), full) << "step " << step;
  }
}

TEST(FairSchedulerTest, GaugesFollowEachApp) {
  metrics::Gauge running;
  metrics::Gauge waiting;
  Scheduler scheduler(
      {.max_running = 8,
       .max_running_per_app = 2,
       .max_waiting_per_app = 100,
       .gauges = [&](const std::string&) { return std::make_pair(&running, &waiting); }});
  for (int i = 0; i < 5; ++i) scheduler.Push("a", 0, i);
  scheduler.TakeStartable();
  EXPECT_EQ(running.Value(), 2);
  EXPECT_EQ(waiting.Value(), 3);
  scheduler.Done("a");
  scheduler.RemoveWaitingIf([](int item) { return item == 4; });
  EXPECT_EQ(running.Value(), 1);
  EXPECT_EQ(waiting.Value(), 2);
}

}  // namespace
}  // namespace hookd::worker
