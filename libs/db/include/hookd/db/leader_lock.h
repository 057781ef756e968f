#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pqxx/pqxx"

namespace hookd::db {

// Leadership among replicas: a session-level Postgres advisory lock held on a connection of its
// own. While the holder's connection lives no other session gets the lock; when the process dies
// its connection closes and another replica takes over. Not thread-safe: one owner thread.
class LeaderLock {
 public:
  // `key` names the role; every role of hookd uses its own ("hookd" and a number).
  LeaderLock(std::string database_url, int64_t key)
      : database_url_(std::move(database_url)), key_(key) {}

  // Whether this process leads, trying to take the lock when it does not. UNAVAILABLE when
  // Postgres cannot be reached (leadership is then lost until a later call succeeds).
  absl::StatusOr<bool> Acquire();

  // The leader's connection, for work that must stop with the leadership (a broken connection
  // ends both); null when not leading.
  pqxx::connection* connection() { return leader_ ? conn_.get() : nullptr; }

  // Gives the lock up (another replica may take it as soon as this returns) and closes the
  // connection.
  void Release();

 private:
  const std::string database_url_;
  const int64_t key_;
  std::unique_ptr<pqxx::connection> conn_;
  bool leader_ = false;
};

}  // namespace hookd::db
