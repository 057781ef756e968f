#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "absl/time/time.h"
#include "grpcpp/support/server_callback.h"
#include "hookd/apps/app_store.h"
#include "hookd/auth/authenticator.h"
#include "hookd/common/thread_pool.h"
#include "hookd/v1/app.grpc.pb.h"

namespace hookd::subscription {

class AppWatcher;

// Tells watchers when the change feed has moved. It polls the feed's head version, so changes
// written by another hookd-subscription replica reach this replica's watchers too, and is woken
// at once by Notify() after a local write.
class AppWatchHub {
 public:
  // Each poll also ends the watches whose token no longer holds (`auth`), so a revoked token
  // stops receiving changes within a poll interval.
  AppWatchHub(apps::AppStore& store, ThreadPool& pool, absl::Duration poll_interval,
              const auth::Authenticator& auth);
  // Stops polling; call Shutdown() first so no watcher is left.
  ~AppWatchHub();

  void Notify();
  // Ends every open watch with UNAVAILABLE (clients resume elsewhere) and refuses new ones.
  void Shutdown();

  // Starts a watch of the tenants `access` reaches (Authorize decided whether this watch may
  // include secrets); a refused authorization ends the stream at once with its status.
  grpc::ServerWriteReactor<v1::WatchAppsResponse>* Watch(const absl::StatusOr<auth::Access>& access,
                                                         const v1::WatchAppsRequest& request);

  // Watches open now (a gauge).
  size_t watchers();

  apps::AppStore& store() { return store_; }
  ThreadPool& pool() { return pool_; }

 private:
  friend class AppWatcher;
  void Remove(AppWatcher* watcher);
  void Loop();

  apps::AppStore& store_;
  ThreadPool& pool_;
  const auth::Authenticator& auth_;
  const absl::Duration poll_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  bool stopping_ = false;
  bool shut_down_ = false;
  int64_t head_ = 0;
  std::set<AppWatcher*> watchers_;
  std::thread thread_;
};

}  // namespace hookd::subscription
