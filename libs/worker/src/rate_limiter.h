#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/queue/redis_client.h"

namespace hookd::worker {

// Per-app rate limits shared by every worker: a token bucket per app in Redis, refilled at the
// app's rate with a burst of one second's worth, taken atomically by a Lua script that reads
// Redis' own clock (so worker clocks never disagree). Each app's bucket has a hash tag of its
// own, so buckets spread over the primaries of a Redis Cluster. Thread-safe.
class RateLimiter {
 public:
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(const RedisOptions& options);

  struct Ask {
    std::string app_id;
    int rate_per_second;  // > 0
  };
  // For each ask, in one round trip: zero when a token was taken, else how long until one is
  // free. UNAVAILABLE when Redis is down (callers then deliver without limiting rather than
  // stall: the limit protects receivers, losing it briefly loses nothing).
  absl::StatusOr<std::vector<absl::Duration>> Take(const std::vector<Ask>& asks);

 private:
  RateLimiter(std::unique_ptr<queue::RedisClient> redis, queue::RedisClient::Script script)
      : redis_(std::move(redis)), script_(std::move(script)) {}
  std::string Key(const std::string& app_id) const;

  const std::unique_ptr<queue::RedisClient> redis_;
  const queue::RedisClient::Script script_;
};

}  // namespace hookd::worker
