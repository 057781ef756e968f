#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace hookd {

// A background thread that runs `tick` at once, then again each time the wait `tick` returned
// has passed, until Stop: the one loop of hookd's sweepers, refreshers and the retention.
class PeriodicTask {
 public:
  // `tick` returns how long to wait before its next run.
  explicit PeriodicTask(std::function<absl::Duration()> tick) : tick_(std::move(tick)) {}
  // Stops.
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // Starts the thread; again while it runs does nothing, after Stop starts it anew.
  void Start();
  // Wakes the thread if it waits, and returns once the running tick has ended.
  void Stop();
  // Whether Stop was called: a long tick checks it between its steps.
  bool stopping() const;
  // Waits `duration` unless stopped first; false when stopped. For pauses inside a tick.
  bool Wait(absl::Duration duration);

 private:
  void Run();

  const std::function<absl::Duration()> tick_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace hookd
