#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hookd {

// A fixed set of threads running submitted tasks in order of submission. gRPC callback handlers
// hand blocking work (Postgres) to a pool so that no reactor thread ever waits on I/O.
class ThreadPool {
 public:
  explicit ThreadPool(int threads, std::string name = "pool");
  // Runs every task already submitted, then joins the threads.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`. After shutdown began the task runs on the calling thread instead, so that a
  // callback waiting on it still completes.
  void Submit(std::function<void()> task);

  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hookd
