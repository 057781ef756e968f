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

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(
    const queue::RedisOptions& options) {
  HOOKD_ASSIGN_OR_RETURN(auto connection, queue::RedisConnection::Create(options));
  return std::unique_ptr<RateLimiter>(new RateLimiter(options, std::move(connection)));
}

std::string RateLimiter::Key(const std::string& app_id) const {
  // Its own hash tag: buckets spread over a Redis Cluster independently of the streams.
  return options_.key_prefix + ":{rl:" + app_id + "}";
}

absl::StatusOr<std::vector<absl::Duration>> RateLimiter::Take(const std::vector<Ask>& asks) {
  std::vector<absl::Duration> waits;
  if (asks.empty()) return waits;
  for (int round = 0; round < 2; ++round) {
    if (sha_.empty()) {
      HOOKD_ASSIGN_OR_RETURN(queue::Reply loaded,
                             connection_->Command({"SCRIPT", "LOAD", kTokenBucket}));
      sha_ = loaded.str;
    }
    std::vector<std::vector<std::string>> commands;
    for (const Ask& ask : asks) {
      commands.push_back(
          {"EVALSHA", sha_, "1", Key(ask.app_id), std::to_string(ask.rate_per_second)});
    }
    HOOKD_ASSIGN_OR_RETURN(std::vector<queue::Reply> replies, connection_->Pipeline(commands));
    bool reload = false;
    waits.clear();
    for (const queue::Reply& reply : replies) {
      if (reply.IsErrorCode("NOSCRIPT")) {
        reload = true;  // Redis restarted and lost the script
        break;
      }
      if (reply.is_error()) return absl::InternalError("rate limiter: " + reply.str);
      waits.push_back(absl::Milliseconds(reply.integer));
    }
    if (!reload) return waits;
    sha_.clear();
  }
  return absl::InternalError("rate limiter: script could not be loaded");
}

}  // namespace hookd::worker
