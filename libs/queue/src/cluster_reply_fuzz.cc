// libFuzzer harness (README, "Sanitizers and fuzzing"): whatever bytes arrive from a Redis Cluster
// node, read into replies as RedisConnection reads them, the cluster routing makes sense of them
// or refuses them: a slot map read from a reply maps every slot it covers to a host:port, and a
// redirection names a slot in range and a host:port; the host is never empty.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "hookd/queue/redis_cluster.h"
#include "replies.h"

namespace {

// "host:port" with a host and a port of 1..65535.
bool IsNode(const std::string& node) {
  const size_t colon = node.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string port = node.substr(colon + 1);
  return !port.empty() && port.size() <= 5 &&
         port.find_first_not_of("0123456789") == std::string::npos && std::stoi(port) >= 1 &&
         std::stoi(port) <= 65535;
}

void CheckSlotMap(const hookd::queue::Reply& reply) {
  absl::StatusOr<hookd::queue::SlotMap> map =
      hookd::queue::SlotMap::FromClusterSlots(reply, "asked");
  if (!map.ok()) return;
  int covered = 0;
  for (int slot = 0; slot < hookd::queue::kClusterSlots; ++slot) {
    const std::string* node = map->PrimaryOf(slot);
    if (node == nullptr) continue;
    if (!IsNode(*node)) std::abort();
    ++covered;
  }
  if (covered != map->CoveredSlots()) std::abort();
}

void CheckRedirect(const hookd::queue::Reply& reply) {
  std::optional<hookd::queue::Redirect> redirect = hookd::queue::ParseRedirect(reply, "asked");
  if (!redirect.has_value()) return;
  if (!reply.is_error() || redirect->slot < 0 || redirect->slot >= hookd::queue::kClusterSlots ||
      !IsNode(redirect->node)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const hookd::queue::Reply& reply :
       hookd::queue::ReadReplies({reinterpret_cast<const char*>(data), size})) {
    CheckSlotMap(reply);
    CheckRedirect(reply);
  }
  return 0;
}
