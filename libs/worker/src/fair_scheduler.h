#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hookd/metrics/metrics.h"

namespace hookd::worker {

// Which of a worker's deliveries go out next (README, "Fair delivery"). Each app has a lane: the
// requests it has running and the deliveries waiting behind them. At most `max_running` requests
// run in all and `max_running_per_app` per app, so a slow or hostile endpoint holds its own share
// of the worker and no more; free slots go to the apps round-robin, one delivery per turn, so an
// app with a backlog cannot starve a quiet one. A lane that holds `max_waiting_per_app` waiting
// deliveries pauses its partition's stream (FullPartitions), which bounds memory while the
// other partitions are still read.
//
// Not thread-safe: the worker calls it under its own mutex. `T` is what the worker carries per
// delivery.
template <typename T>
class FairScheduler {
 public:
  struct Options {
    int max_running = 256;
    int max_running_per_app = 64;
    int max_waiting_per_app = 10000;
    // The gauges of one app's running and waiting deliveries (nullptr: none); asked once per lane.
    std::function<std::pair<metrics::Gauge*, metrics::Gauge*>(const std::string& app)> gauges =
        nullptr;
  };

  explicit FairScheduler(Options options) : options_(std::move(options)) {}

  // Queues `item` of app `app`, whose deliveries travel on stream partition `partition`.
  void Push(const std::string& app, int partition, T item) {
    Lane& lane = LaneOf(app, partition);
    Account(lane, -1);
    lane.waiting.push_back(std::move(item));
    Account(lane, +1);
    ++waiting_;
    if (lane.waiting_gauge != nullptr) lane.waiting_gauge->Add(1);
    MakeReady(app, lane);
  }

  // The deliveries to start now, in turn, each counted as running until Done(app).
  std::vector<std::pair<std::string, T>> TakeStartable() {
    std::vector<std::pair<std::string, T>> start;
    while (running_ < options_.max_running && !ready_.empty()) {
      std::string app = std::move(ready_.front());
      ready_.pop_front();
      Lane& lane = lanes_.at(app);
      lane.ready = false;
      Account(lane, -1);
      T item = std::move(lane.waiting.front());
      lane.waiting.pop_front();
      --waiting_;
      ++lane.running;
      Account(lane, +1);
      ++running_;
      if (lane.waiting_gauge != nullptr) lane.waiting_gauge->Add(-1);
      if (lane.running_gauge != nullptr) lane.running_gauge->Add(1);
      MakeReady(app, lane);  // to the back of the line, if it has more it may start
      start.emplace_back(std::move(app), std::move(item));
    }
    return start;
  }

  // A delivery of `app` that TakeStartable returned has finished.
  void Done(const std::string& app) {
    auto it = lanes_.find(app);
    if (it == lanes_.end() || it->second.running == 0) return;
    Lane& lane = it->second;
    Account(lane, -1);
    --lane.running;
    Account(lane, +1);
    --running_;
    if (lane.running_gauge != nullptr) lane.running_gauge->Add(-1);
    MakeReady(app, lane);
    if (lane.running == 0 && lane.waiting.empty()) lanes_.erase(it);
  }

  // Waiting deliveries that their app's cap holds back: they take no slot from a delivery read
  // now, so a backlog behind a slow app does not stop reading.
  // Kept up to date by every change, so the reader asks in O(1) however many apps there are.
  int Blocked() const { return blocked_; }

  // Partitions with a lane holding max_waiting_per_app waiting deliveries: not to be read until
  // it drains.
  std::set<int> FullPartitions() const {
    std::set<int> full;
    for (const auto& [partition, lanes] : full_lanes_) full.insert(partition);
    return full;
  }

  // Removes and returns the waiting deliveries for which `drop(item)` holds.
  template <typename Pred>
  std::vector<T> RemoveWaitingIf(Pred drop) {
    std::vector<T> removed;
    for (auto it = lanes_.begin(); it != lanes_.end();) {
      Lane& lane = it->second;
      Account(lane, -1);
      std::deque<T> kept;
      for (T& item : lane.waiting) {
        if (drop(item)) {
          removed.push_back(std::move(item));
        } else {
          kept.push_back(std::move(item));
        }
      }
      const int gone = static_cast<int>(lane.waiting.size() - kept.size());
      waiting_ -= gone;
      if (lane.waiting_gauge != nullptr) lane.waiting_gauge->Add(-gone);
      lane.waiting = std::move(kept);
      Account(lane, +1);
      if (lane.waiting.empty() && lane.ready) {
        lane.ready = false;
        ready_.erase(std::find(ready_.begin(), ready_.end(), it->first));
      }
      if (lane.running == 0 && lane.waiting.empty()) {
        it = lanes_.erase(it);
      } else {
        ++it;
      }
    }
    return removed;
  }

  int running() const { return running_; }
  int waiting() const { return waiting_; }

 private:
  struct Lane {
    int partition = 0;
    int running = 0;
    std::deque<T> waiting;
    bool ready = false;  // listed in ready_
    metrics::Gauge* running_gauge = nullptr;
    metrics::Gauge* waiting_gauge = nullptr;
  };

  Lane& LaneOf(const std::string& app, int partition) {
    auto [it, created] = lanes_.try_emplace(app);
    if (created) {
      it->second.partition = partition;
      if (options_.gauges) {
        std::tie(it->second.running_gauge, it->second.waiting_gauge) = options_.gauges(app);
      }
    }
    return it->second;
  }

  // Adds (+1) or takes back (-1) `lane`'s share of blocked_ and full_lanes_: called around every
  // change of a lane.
  void Account(const Lane& lane, int sign) {
    const int waiting = static_cast<int>(lane.waiting.size());
    const int may_start = std::max(0, options_.max_running_per_app - lane.running);
    blocked_ += sign * std::max(0, waiting - may_start);
    if (waiting >= options_.max_waiting_per_app) {
      if ((full_lanes_[lane.partition] += sign) == 0) full_lanes_.erase(lane.partition);
    }
  }

  // Lists `lane` for a turn when it has a delivery that its cap lets start.
  void MakeReady(const std::string& app, Lane& lane) {
    if (lane.ready || lane.waiting.empty() || lane.running >= options_.max_running_per_app) return;
    lane.ready = true;
    ready_.push_back(app);
  }

  const Options options_;
  std::unordered_map<std::string, Lane> lanes_;
  std::deque<std::string> ready_;  // apps with a turn due, in order
  int running_ = 0;
  int waiting_ = 0;
  int blocked_ = 0;
  std::map<int, int> full_lanes_;  // partition -> its lanes holding max_waiting_per_app
};

}  // namespace hookd::worker
