#include "hookd/delivery/outcome.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace hookd::delivery {
namespace {

// Hands out scripted values, repeating the last one.
class FakeRandom final : public Random {
 public:
  explicit FakeRandom(std::vector<double> values) : values_(std::move(values)) {}
  double Uniform() override {
    const double value = values_[std::min(next_, values_.size() - 1)];
    ++next_;
    return value;
  }

 private:
  std::vector<double> values_;
  size_t next_ = 0;
};

const absl::Time kNow = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT

http::HttpResult Result(int status, std::string retry_after = "") {
  http::HttpResult result;
  result.status_code = status;
  if (!retry_after.empty()) result.headers.emplace_back("retry-after", std::move(retry_after));
  return result;
}

google::protobuf::Duration Seconds(int64_t seconds) {
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  return duration;
}

TEST(ClassifyTest, TwoHundredsSucceed) {
  for (int status : {200, 201, 204, 299}) {
    EXPECT_EQ(Classify(Result(status)), Verdict::kSucceeded) << status;
  }
}

TEST(ClassifyTest, GoneStops) { EXPECT_EQ(Classify(Result(410)), Verdict::kGone); }

TEST(ClassifyTest, EverythingElseRetries) {
  for (int status : {100, 199, 300, 302, 304, 400, 401, 403, 404, 408, 409, 429, 500, 502, 503}) {
    http::HttpResult result = Result(status);
    result.error = v1::ATTEMPT_ERROR_HTTP_STATUS;
    EXPECT_EQ(Classify(result), Verdict::kRetry) << status;
  }
  for (v1::AttemptError error :
       {v1::ATTEMPT_ERROR_TIMEOUT, v1::ATTEMPT_ERROR_CONNECTION, v1::ATTEMPT_ERROR_TLS,
        v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS, v1::ATTEMPT_ERROR_INTERNAL}) {
    http::HttpResult result = Result(0);
    result.error = error;
    EXPECT_EQ(Classify(result), Verdict::kRetry) << error;
  }
}

TEST(PermanentErrorTest, TheDocumentedTable) {
  int lookups = 0;
  const auto unknown = [&] {
    ++lookups;
    return true;
  };
  for (int status : {400, 401, 403, 404, 405, 410, 413, 422, 499}) {
    EXPECT_EQ(PermanentError(Result(status), unknown), "HTTP " + std::to_string(status));
  }
  for (int status : {200, 204, 302, 408, 409, 425, 429, 500, 503, 504}) {
    EXPECT_EQ(PermanentError(Result(status), unknown), std::nullopt) << status;
  }
  http::HttpResult result = Result(0);
  result.error = v1::ATTEMPT_ERROR_FORBIDDEN_ADDRESS;
  result.error_detail = "127.0.0.1";
  EXPECT_EQ(PermanentError(result, unknown), "forbidden address: 127.0.0.1");
  result.error = v1::ATTEMPT_ERROR_TLS;
  result.error_detail = "SSL peer certificate was not OK";
  EXPECT_EQ(PermanentError(result, unknown), std::nullopt);  // a handshake that broke off
  result.cause = http::HttpResult::Cause::kCertificateRejected;
  EXPECT_EQ(PermanentError(result, unknown),
            "TLS certificate rejected: SSL peer certificate was not OK");
  for (v1::AttemptError error : {v1::ATTEMPT_ERROR_TIMEOUT, v1::ATTEMPT_ERROR_INTERNAL}) {
    http::HttpResult other = Result(0);
    other.error = error;
    EXPECT_EQ(PermanentError(other, unknown), std::nullopt) << error;
  }
  EXPECT_EQ(lookups, 0);  // only an unresolved host asks the resolver
  http::HttpResult dns = Result(0);
  dns.error = v1::ATTEMPT_ERROR_CONNECTION;
  dns.error_detail = "Could not resolve host: hooks.example.invalid";
  EXPECT_EQ(PermanentError(dns, unknown), std::nullopt);  // a refused connection, say
  dns.cause = http::HttpResult::Cause::kHostNotResolved;
  EXPECT_EQ(PermanentError(dns, unknown),
            "host not found: Could not resolve host: hooks.example.invalid");
  EXPECT_EQ(lookups, 1);
  // A resolver that timed out is transient.
  EXPECT_EQ(PermanentError(dns, [] { return false; }), std::nullopt);
}

TEST(AttemptErrorOfTest, NamesWhatWentWrong) {
  EXPECT_EQ(AttemptErrorOf(Result(200)), v1::ATTEMPT_ERROR_NONE);
  EXPECT_EQ(AttemptErrorOf(Result(204)), v1::ATTEMPT_ERROR_NONE);
  for (int status : {199, 302, 404, 410, 429, 500, 503}) {
    EXPECT_EQ(AttemptErrorOf(Result(status)), v1::ATTEMPT_ERROR_HTTP_STATUS) << status;
  }
  http::HttpResult timeout = Result(0);
  timeout.error = v1::ATTEMPT_ERROR_TIMEOUT;
  EXPECT_EQ(AttemptErrorOf(timeout), v1::ATTEMPT_ERROR_TIMEOUT);
  http::HttpResult refused = Result(0);
  refused.error = v1::ATTEMPT_ERROR_CONNECTION;
  EXPECT_EQ(AttemptErrorOf(refused), v1::ATTEMPT_ERROR_CONNECTION);
}

TEST(RetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(RetryAfter(Result(429, "120"), kNow), absl::Seconds(120));
  EXPECT_EQ(RetryAfter(Result(503, "0"), kNow), absl::ZeroDuration());
  EXPECT_EQ(RetryAfter(Result(503, " 7 "), kNow), absl::Seconds(7));
}

TEST(RetryAfterTest, HttpDate) {
  EXPECT_EQ(RetryAfter(Result(503, "Sun, 06 Nov 1994 08:50:07 GMT"), kNow), absl::Seconds(30));
  EXPECT_EQ(RetryAfter(Result(429, "Sun, 06 Nov 1994 08:49:37 GMT"), kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, PastDateMeansNow) {
  EXPECT_EQ(RetryAfter(Result(503, "Sat, 05 Nov 1994 08:49:37 GMT"), kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, HugeDeltaStaysLong) {
  std::optional<absl::Duration> wait = RetryAfter(Result(429, "99999999999999999999999"), kNow);
  ASSERT_TRUE(wait.has_value());
  EXPECT_GT(*wait, absl::Hours(24 * 365 * 1000));
}

TEST(RetryAfterTest, GarbageIsIgnored) {
  for (const char* value : {"soon", "-5", "1.5", "12abc", "Sunday, 06-Nov-94 08:49:37 GMT",
                            "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994"}) {
    EXPECT_EQ(RetryAfter(Result(503, value), kNow), std::nullopt) << value;
  }
  EXPECT_EQ(RetryAfter(Result(503), kNow), std::nullopt);
}

TEST(RetryAfterTest, OnlyFor429And503) {
  for (int status : {200, 301, 410, 500, 502}) {
    EXPECT_EQ(RetryAfter(Result(status, "120"), kNow), std::nullopt) << status;
  }
}

TEST(NextRetryDelayTest, StandardScheduleWithoutJitter) {
  const v1::RetryPolicy policy;
  FakeRandom random({0.5});
  const std::vector<absl::Duration> expected = {
      absl::Seconds(5), absl::Minutes(5), absl::Minutes(30), absl::Hours(2),
      absl::Hours(5),   absl::Hours(10),  absl::Hours(10)};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(NextRetryDelay(policy, static_cast<int>(i) + 1, std::nullopt, random), expected[i])
        << "after attempt " << i + 1;
  }
  EXPECT_EQ(NextRetryDelay(policy, 8, std::nullopt, random), std::nullopt);
  EXPECT_EQ(NextRetryDelay(policy, 9, std::nullopt, random), std::nullopt);
  EXPECT_EQ(MaxAttempts(policy), 8);
}

TEST(NextRetryDelayTest, JitterBounds) {
  const v1::RetryPolicy policy;
  FakeRandom low({0.0});
  EXPECT_EQ(NextRetryDelay(policy, 2, std::nullopt, low), absl::Minutes(4));
  EXPECT_EQ(NextRetryDelay(policy, 1, std::nullopt, low), absl::Seconds(4));

  FakeRandom high({std::nextafter(1.0, 0.0)});
  std::optional<absl::Duration> delay = NextRetryDelay(policy, 2, std::nullopt, high);
  ASSERT_TRUE(delay.has_value());
  EXPECT_LE(*delay, absl::Minutes(6));
  EXPECT_GT(*delay, absl::Minutes(6) - absl::Milliseconds(1));
}

TEST(NextRetryDelayTest, CustomJitter) {
  FakeRandom random({0.0});
  RetryOptions options;
  options.jitter = 0.0;
  EXPECT_EQ(NextRetryDelay(v1::RetryPolicy(), 3, std::nullopt, random, options), absl::Minutes(30));
  options.jitter = 0.5;
  EXPECT_EQ(NextRetryDelay(v1::RetryPolicy(), 3, std::nullopt, random, options), absl::Minutes(15));
}

TEST(NextRetryDelayTest, DefaultRandomStaysWithinJitter) {
  const v1::RetryPolicy policy;
  DefaultRandom random;
  absl::Duration min = absl::InfiniteDuration();
  absl::Duration max = -absl::InfiniteDuration();
  for (int i = 0; i < 10000; ++i) {
    const double u = random.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    std::optional<absl::Duration> delay = NextRetryDelay(policy, 4, std::nullopt, random);
    ASSERT_TRUE(delay.has_value());
    min = std::min(min, *delay);
    max = std::max(max, *delay);
  }
  EXPECT_GE(min, absl::Hours(2) * 0.8);
  EXPECT_LE(max, absl::Hours(2) * 1.2);
  // 10,000 draws spread over the range; a constant generator would fail these.
  EXPECT_LT(min, absl::Hours(2) * 0.81);
  EXPECT_GT(max, absl::Hours(2) * 1.19);
}

TEST(NextRetryDelayTest, RetryAfterRaisesTheWait) {
  const v1::RetryPolicy policy;
  FakeRandom random({0.5});
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::Hours(1), random), absl::Hours(1));
  // A shorter Retry-After does not hasten the schedule.
  EXPECT_EQ(NextRetryDelay(policy, 3, absl::Seconds(1), random), absl::Minutes(30));
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::ZeroDuration(), random), absl::Seconds(5));
}

TEST(NextRetryDelayTest, RetryAfterIsCappedAtTheLongestDelay) {
  const v1::RetryPolicy policy;
  FakeRandom random({0.5});
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::Hours(100), random), absl::Hours(10));
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::InfiniteDuration(), random), absl::Hours(10));
  // Still no retry once the attempts are spent, whatever the endpoint asks.
  EXPECT_EQ(NextRetryDelay(policy, 8, absl::Seconds(1), random), std::nullopt);
}

TEST(NextRetryDelayTest, DelayScale) {
  const v1::RetryPolicy policy;
  FakeRandom random({0.5});
  RetryOptions options;
  options.delay_scale = 0.001;
  EXPECT_EQ(NextRetryDelay(policy, 1, std::nullopt, random, options), absl::Milliseconds(5));
  EXPECT_EQ(NextRetryDelay(policy, 2, std::nullopt, random, options), absl::Milliseconds(300));
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::Hours(100), random, options), absl::Seconds(36));
}

TEST(NextRetryDelayTest, ExplicitDelays) {
  v1::RetryPolicy policy;
  *policy.add_delays() = Seconds(10);
  *policy.add_delays() = Seconds(60);
  FakeRandom random({0.5});
  EXPECT_EQ(MaxAttempts(policy), 3);
  EXPECT_EQ(NextRetryDelay(policy, 1, std::nullopt, random), absl::Seconds(10));
  EXPECT_EQ(NextRetryDelay(policy, 2, std::nullopt, random), absl::Seconds(60));
  EXPECT_EQ(NextRetryDelay(policy, 3, std::nullopt, random), std::nullopt);
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::Hours(1), random), absl::Seconds(60));
}

TEST(NextRetryDelayTest, ExponentialPolicy) {
  v1::RetryPolicy policy;
  v1::ExponentialBackoff* exponential = policy.mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2.0);
  *exponential->mutable_max_delay() = Seconds(5);
  exponential->set_max_attempts(4);
  FakeRandom random({0.5});
  EXPECT_EQ(MaxAttempts(policy), 4);
  EXPECT_EQ(NextRetryDelay(policy, 1, std::nullopt, random), absl::Seconds(1));
  EXPECT_EQ(NextRetryDelay(policy, 2, std::nullopt, random), absl::Seconds(2));
  EXPECT_EQ(NextRetryDelay(policy, 3, std::nullopt, random), absl::Seconds(4));
  EXPECT_EQ(NextRetryDelay(policy, 4, std::nullopt, random), std::nullopt);
}

TEST(NextRetryDelayTest, SingleAttemptPolicyNeverRetries) {
  v1::RetryPolicy policy;
  v1::ExponentialBackoff* exponential = policy.mutable_exponential();
  *exponential->mutable_initial_delay() = Seconds(1);
  exponential->set_multiplier(2.0);
  *exponential->mutable_max_delay() = Seconds(5);
  exponential->set_max_attempts(1);
  FakeRandom random({0.5});
  EXPECT_EQ(MaxAttempts(policy), 1);
  EXPECT_EQ(NextRetryDelay(policy, 1, absl::Seconds(3), random), std::nullopt);
}

}  // namespace
}  // namespace hookd::delivery
