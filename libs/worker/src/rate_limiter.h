#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/queue/redis_connection.h"

namespace hookd::worker {

// Per-app rate limits shared by every worker: a token bucket per app in Redis, refilled at the
// app's rate with a burst of one second's worth, taken atomically by a Lua script that reads
// Redis' own clock (so worker clocks never disagree).
class RateLimiter {
 public:
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(const queue::RedisOptions& options);

  struct Ask {
    std::string app_id;
    int rate_per_second;  // > 0
  };
  // For each ask, in one round trip: zero when a token was taken, else how long until one is
  // free. UNAVAILABLE when Redis is down (callers then deliver without limiting rather than
  // stall: the limit protects receivers, losing it briefly loses nothing).
  absl::StatusOr<std::vector<absl::Duration>> Take(const std::vector<Ask>& asks);

 private:
  RateLimiter(queue::RedisOptions options, std::unique_ptr<queue::RedisConnection> connection)
      : options_(std::move(options)), connection_(std::move(connection)) {}
  std::string Key(const std::string& app_id) const;

  const queue::RedisOptions options_;
  std::unique_ptr<queue::RedisConnection> connection_;
  std::string sha_;
};

}  // namespace hookd::worker
