#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/common/periodic_task.h"
#include "hookd/db/leader_lock.h"
#include "pqxx/pqxx"

namespace hookd::db {

// Background work that one replica of a service does at a time (the outbox sweeper, the
// retention): a PeriodicTask whose rounds run only while this process holds the LeaderLock of
// `key`. A round of a replica that does not lead does nothing; the leader's death (its connection
// closes) or a Postgres failure hands the role to whichever replica asks next.
class LeaderTask {
 public:
  // `tick` is the background round (it calls WhileLeading) and returns the wait before the next.
  LeaderTask(std::string database_url, int64_t key, std::function<absl::Duration()> tick)
      : lock_(std::move(database_url), key), task_(std::move(tick)) {}
  // Stops.
  ~LeaderTask() { Stop(); }
  LeaderTask(const LeaderTask&) = delete;
  LeaderTask& operator=(const LeaderTask&) = delete;

  // Runs `work` on the leader's connection if this replica leads, taking the lock when it is
  // free: true when it ran, false when another replica leads. `work`'s failure is returned; an
  // UNAVAILABLE one (Postgres is gone) also gives the lock up. One round at a time: a round
  // called from another thread (a test's, say) waits for the running one.
  absl::StatusOr<bool> WhileLeading(const std::function<absl::Status(pqxx::connection&)>& work);

  // Starts the rounds.
  void Start() { task_.Start(); }
  // Ends the rounds (the running one first: it may check stopping()) and gives the lock up.
  void Stop();
  // Whether Stop was called, and a pause inside a round that Stop ends (false then).
  bool stopping() const { return task_.stopping(); }
  bool Wait(absl::Duration duration) { return task_.Wait(duration); }

 private:
  std::mutex mu_;
  LeaderLock lock_;  // guarded by mu_
  // Last: its thread uses the members above.
  PeriodicTask task_;
};

}  // namespace hookd::db
