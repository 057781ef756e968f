// libFuzzer harness (README, "Sanitizers and fuzzing"): page tokens are client input. Decoding any
// token either fails with INVALID_ARGUMENT naming page_token or yields a cursor; a token we
// encode decodes to its own cursor under its own filters and to an error under others.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string filters = in.ConsumeRandomLengthString(256);
  const std::string cursor = in.ConsumeRandomLengthString(256);
  const std::string token = in.ConsumeRemainingBytesAsString();

  auto decoded = hookd::subscription::DecodePageToken(token, filters);
  if (!decoded.ok() && (decoded.status().code() != absl::StatusCode::kInvalidArgument ||
                        !absl::StartsWith(decoded.status().message(), "page_token"))) {
    std::abort();
  }

  // Filters and cursors the services write never hold a newline (the token's separator).
  if (filters.find('\n') == std::string::npos && cursor.find('\n') == std::string::npos) {
    const std::string ours = hookd::subscription::EncodePageToken(filters, cursor);
    auto back = hookd::subscription::DecodePageToken(ours, filters);
    if (!back.ok() || *back != cursor) std::abort();
    if (hookd::subscription::DecodePageToken(ours, filters + "x").ok()) std::abort();
  }
  return 0;
}
