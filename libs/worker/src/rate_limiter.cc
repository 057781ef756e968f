#include "rate_limiter.h"

#include "hookd/common/status.h"

namespace hookd::worker {
namespace {

// KEYS[1] bucket; ARGV[1] rate per second; returns milliseconds to wait (0: token taken).
constexpr char kTokenBucket[] = R"lua(
local rate = tonumber(ARGV[1])
local burst = rate
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 2000 + math.ceil(burst * 1000 / rate))
return wait
)lua";

}  // namespace

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(const RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(auto redis, queue::RedisClient::Create(options));
  HOOKD_ASSIGN_OR_RETURN(auto script, redis->Load(kTokenBucket));
  return std::unique_ptr<RateLimiter>(new RateLimiter(std::move(redis), std::move(script)));
}

std::string RateLimiter::Key(const std::string& app_id) const {
  // Its own hash tag: buckets spread over a Redis Cluster independently of the streams.
  return redis_->options().key_prefix + ":{rl:" + app_id + "}";
}

absl::StatusOr<std::vector<absl::Duration>> RateLimiter::Take(const std::vector<Ask>& asks) {
  std::vector<absl::Duration> waits;
  if (asks.empty()) return waits;
  std::vector<queue::ClusterCommand> calls;
  calls.reserve(asks.size());
  for (const Ask& ask : asks) {
    std::string key = Key(ask.app_id);
    const int slot = queue::KeySlot(key);
    calls.push_back({slot, {"1", std::move(key), std::to_string(ask.rate_per_second)}});
  }
  HOOKD_ASSIGN_OR_RETURN(std::vector<queue::Reply> replies, redis_->Eval(script_, calls));
  for (const queue::Reply& reply : replies) {
    if (reply.is_error()) return absl::InternalError("rate limiter: " + reply.str);
    waits.push_back(absl::Milliseconds(reply.integer));
  }
  return waits;
}

}  // namespace hookd::worker
