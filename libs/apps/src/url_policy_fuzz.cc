// libFuzzer harness (README, "Sanitizers and fuzzing"): endpoint urls and addresses come from
// tenants, the allowlist from operators. Checks answer OK or INVALID_ARGUMENT naming the field;
// parsed addresses and networks print to text that parses back to them; an address that is not
// restricted is allowed under any allowlist.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "hookd/apps/validation.h"
#include "hookd/http/ip_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace apps = hookd::apps;
  namespace http = hookd::http;
  FuzzedDataProvider in(data, size);
  apps::ValidationOptions options;
  options.allow_http = in.ConsumeBool();
  auto allowlist = http::ParseAllowlist(in.ConsumeRandomLengthString(128));
  if (allowlist.ok()) {
    options.private_allowlist = *allowlist;
    for (const http::IpNetwork& network : *allowlist) {
      auto again = http::IpNetwork::Parse(network.ToString());
      if (!again.ok() || !(*again == network)) std::abort();
    }
  } else if (allowlist.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();
  }
  const std::string text = in.ConsumeRemainingBytesAsString();

  const absl::Status url = apps::ValidateUrl(text, options, "app.url");
  if (!url.ok() && (url.code() != absl::StatusCode::kInvalidArgument ||
                    !absl::StartsWith(url.message(), "app.url"))) {
    std::abort();
  }

  if (auto address = http::IpAddress::Parse(text)) {
    auto again = http::IpAddress::Parse(address->ToString());
    if (!again || !(*again == *address)) std::abort();
    if (!http::IsRestrictedAddress(*address) &&
        !http::IsAllowedAddress(*address, options.private_allowlist)) {
      std::abort();
    }
    for (const http::IpNetwork& network : options.private_allowlist) {
      if (network.Contains(*address) &&
          !http::IsAllowedAddress(*address, options.private_allowlist)) {
        std::abort();
      }
    }
  }
  if (auto network = http::IpNetwork::Parse(text); network.ok()) {
    auto again = http::IpNetwork::Parse(network->ToString());
    if (!again.ok() || !(*again == *network)) std::abort();
  }
  return 0;
}
