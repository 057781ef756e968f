// libFuzzer harness (README, "Sanitizers and fuzzing"): a receiver's status and Retry-After header,
// then the retry delay it leads to under the default schedule. Whatever the header says, the
// wait is never negative and never beyond the schedule's longest delay plus its jitter.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>

#include "hookd/delivery/outcome.h"

namespace {

class FixedRandom final : public hookd::delivery::Random {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform() override { return value_; }

 private:
  double value_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  hookd::http::HttpResult result;
  result.status_code = in.PickValueInArray({429, 503, 500, 200});
  const int attempts = in.ConsumeIntegralInRange(1, 10);
  const double u = in.ConsumeFloatingPointInRange(0.0, 0.999);
  const absl::Time now =
      absl::FromUnixSeconds(in.ConsumeIntegralInRange<int64_t>(0, int64_t{1} << 40));
  result.headers.emplace_back("retry-after", in.ConsumeRemainingBytesAsString());

  const std::optional<absl::Duration> asked = hookd::delivery::RetryAfter(result, now);
  if (asked && *asked < absl::ZeroDuration()) std::abort();
  FixedRandom random(u);
  const hookd::v1::RetryPolicy policy;  // the Standard Webhooks schedule, longest wait 10 h
  const std::optional<absl::Duration> delay =
      hookd::delivery::NextRetryDelay(policy, attempts, asked, random);
  if (delay && (*delay < absl::ZeroDuration() || *delay > absl::Hours(10) * 1.2)) std::abort();
  return 0;
}
