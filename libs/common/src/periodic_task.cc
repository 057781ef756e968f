#include "hookd/common/periodic_task.h"

namespace hookd {

void PeriodicTask::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void PeriodicTask::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PeriodicTask::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool PeriodicTask::Wait(absl::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMicroseconds(duration), [this] { return stopping_; });
  return !stopping_;
}

void PeriodicTask::Run() {
  while (!stopping()) {
    if (!Wait(tick_())) return;
  }
}

}  // namespace hookd
