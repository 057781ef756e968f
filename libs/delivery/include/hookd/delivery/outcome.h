#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "hookd/http/http_sender.h"
#include "hookd/v1/app.pb.h"

namespace hookd::delivery {

// What an attempt's result means for the delivery.
enum class Verdict {
  kSucceeded,  // 2xx (within the timeout, which the sender enforces)
  kRetry,      // anything else: connection errors, timeouts, 3xx, 4xx, 5xx
  kGone,       // 410 Gone: the endpoint asks us to stop; the app is disabled at once
};

Verdict Classify(const http::HttpResult& result);

// The AttemptError the delivery log stores for `result`: the sender's transport error, else
// ATTEMPT_ERROR_NONE for a 2xx and ATTEMPT_ERROR_HTTP_STATUS for any other answer (the sender
// reports every complete response as ATTEMPT_ERROR_NONE).
v1::AttemptError AttemptErrorOf(const http::HttpResult& result);

// Why `result` is an error that will not pass by itself, for apps that disable on the first one
// (App.disable_on_permanent_error, the README's table); nullopt for a success and for transient
// errors. Permanent: an HTTP 4xx other than 408 Request Timeout, 409 Conflict, 425 Too Early and
// 429 Too Many Requests ("HTTP 401"); a TLS certificate the worker rejected; an address hookd
// may not reach; a host name that does not exist, when `host_is_unknown` confirms it (curl says
// the same for a resolver timeout, which is transient). `host_is_unknown` is called only then.
std::optional<std::string> PermanentError(const http::HttpResult& result,
                                          const std::function<bool()>& host_is_unknown);

// The wait a Retry-After header asks for, for a 429 or 503 only: delta-seconds or an HTTP-date
// (relative to `now`); nullopt when absent, malformed, or another status.
std::optional<absl::Duration> RetryAfter(const http::HttpResult& result, absl::Time now);

// Source of jitter; a fake in tests.
class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double Uniform() = 0;
};

// std::mt19937_64 seeded from std::random_device. Not thread-safe: one per thread.
class DefaultRandom final : public Random {
 public:
  DefaultRandom();
  double Uniform() override;

 private:
  std::mt19937_64 engine_;
};

struct RetryOptions {
  // Multiplies every delay (tests run the real schedule in milliseconds).
  double delay_scale = 1.0;
  // Each delay is multiplied by a factor uniform in [1 - jitter, 1 + jitter].
  double jitter = 0.2;
};

// When to try again after `attempts_made` attempts (1 after the first), or nullopt when the
// policy has no attempts left and the delivery has failed. The policy's delay for this retry
// gets ±jitter; a Retry-After is honoured within the policy's bounds: the wait is at least
// what it asks, capped at the policy's longest delay.
std::optional<absl::Duration> NextRetryDelay(const v1::RetryPolicy& policy, int attempts_made,
                                             std::optional<absl::Duration> retry_after,
                                             Random& random, const RetryOptions& options = {});

// Total attempts the policy allows (first attempt included).
int MaxAttempts(const v1::RetryPolicy& policy);

}  // namespace hookd::delivery
