#include "hookd/testing/testing.h"

#include <thread>

#include "absl/time/clock.h"

namespace hookd::testing {

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout, absl::Duration interval) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(interval));
  }
}

std::unique_ptr<grpc::ClientContext> ClientContext(const std::string& token,
                                                   absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

}  // namespace hookd::testing
