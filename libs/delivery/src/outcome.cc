#include "hookd/delivery/outcome.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hookd/apps/validation.h"

namespace hookd::delivery {

Verdict Classify(const http::HttpResult& result) {
  if (result.status_code >= 200 && result.status_code <= 299) return Verdict::kSucceeded;
  if (result.status_code == 410) return Verdict::kGone;
  return Verdict::kRetry;
}

v1::AttemptError AttemptErrorOf(const http::HttpResult& result) {
  if (result.error != v1::ATTEMPT_ERROR_NONE) return result.error;
  return Classify(result) == Verdict::kSucceeded ? v1::ATTEMPT_ERROR_NONE
                                                 : v1::ATTEMPT_ERROR_HTTP_STATUS;
}

std::optional<std::string> PermanentError(const http::HttpResult& result,
                                          const std::function<bool()>& host_is_unknown) {
  if (result.error == v1::ATTEMPT_ERROR_NONE) {
    const int code = result.status_code;
    const bool transient_4xx = code == 408 || code == 409 || code == 425 || code == 429;
    if (code >= 400 && code <= 499 && !transient_4xx) return "HTTP " + std::to_string(code);
    return std::nullopt;
  }
  switch (result.error) {
    case v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS:
      return "forbidden address: " + result.error_detail;
    case v1::ATTEMPT_ERROR_TLS:
      if (result.cause == http::HttpResult::Cause::kCertificateRejected) {
        return "TLS certificate rejected: " + result.error_detail;
      }
      return std::nullopt;
    case v1::ATTEMPT_ERROR_CONNECTION:
      if (result.cause == http::HttpResult::Cause::kHostNotResolved && host_is_unknown()) {
        return "host not found: " + result.error_detail;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<absl::Duration> RetryAfter(const http::HttpResult& result, absl::Time now) {
  // RFC 9110 gives Retry-After meaning on 503 and 3xx; 429 (RFC 6585) uses it too. A 3xx is not
  // followed here, so only the two "come back later" answers count.
  if (result.status_code != 429 && result.status_code != 503) return std::nullopt;
  const std::string header = result.Header("retry-after");
  const absl::string_view value = absl::StripAsciiWhitespace(header);
  if (value.empty()) return std::nullopt;

  if (std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
    int64_t seconds;
    // Too many digits to fit still means "a very long time", which the retry policy caps.
    if (!absl::SimpleAtoi(value, &seconds)) seconds = std::numeric_limits<int64_t>::max();
    return absl::Seconds(seconds);
  }

  // IMF-fixdate, the only HTTP-date form senders may generate (RFC 9110 section 5.6.7).
  absl::Time date;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &date, &error)) {
    return std::nullopt;
  }
  return std::max(date - now, absl::ZeroDuration());
}

DefaultRandom::DefaultRandom() : engine_(std::random_device{}()) {}

double DefaultRandom::Uniform() {
  // generate_canonical may round up to exactly 1.0 on some implementations (LWG 2524); the
  // distribution below has the same issue, so clamp to keep the documented half-open range.
  const double value = std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  return value < 1.0 ? value : std::nextafter(1.0, 0.0);
}

std::optional<absl::Duration> NextRetryDelay(const v1::RetryPolicy& policy, int attempts_made,
                                             std::optional<absl::Duration> retry_after,
                                             Random& random, const RetryOptions& options) {
  const std::vector<absl::Duration> delays = apps::RetryDelays(policy);
  // A caller that has not attempted yet gets the first retry's wait rather than undefined
  // behaviour; it should not ask.
  const size_t retry = static_cast<size_t>(std::max(attempts_made, 1));
  if (retry > delays.size()) return std::nullopt;

  // Written as 1 + jitter * (2u - 1) so that u = 0.5 yields the policy's delay exactly.
  const double factor = 1.0 + options.jitter * (2.0 * random.Uniform() - 1.0);
  absl::Duration delay = delays[retry - 1] * factor;
  if (retry_after.has_value()) {
    // Honour the receiver's request, but never beyond the policy's longest wait: a hostile or
    // broken endpoint must not park deliveries for days.
    const absl::Duration longest = *std::max_element(delays.begin(), delays.end());
    delay = std::max(delay, std::min(*retry_after, longest));
  }
  return delay * options.delay_scale;
}

int MaxAttempts(const v1::RetryPolicy& policy) {
  return static_cast<int>(apps::RetryDelays(policy).size()) + 1;
}

}  // namespace hookd::delivery
