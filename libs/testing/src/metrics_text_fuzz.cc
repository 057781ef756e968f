// libFuzzer harness (README, "Sanitizers and fuzzing"): the Prometheus text parser the tests read
// every service's /metrics with. Any text parses or fails with INVALID_ARGUMENT; in what parses,
// every sample is found again by its name and labels (no series twice).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hookd/testing/metrics_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto scrape =
      hookd::testing::ParseMetricsText(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!scrape.ok()) {
    if (scrape.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  for (const auto& sample : scrape->samples) {
    if (sample.name.empty() || !scrape->Get(sample.name, sample.labels).has_value()) std::abort();
  }
  return 0;
}
