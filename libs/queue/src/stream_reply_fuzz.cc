// libFuzzer harness (README, "Sanitizers and fuzzing"): whatever bytes arrive from Redis, hiredis's
// reader turns them into replies, and the queue copies them and reads stream entries out of
// them as it does for XREADGROUP and XAUTOCLAIM, with the reader limits of RedisConnection. An
// entry that parses is one a worker can deliver: it names a delivery and an app, and an attempt
// of at least 1.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "replies.h"

namespace {

void CheckEntries(const hookd::queue::Reply& list) {
  std::vector<hookd::queue::StreamEntry> entries, malformed;
  hookd::queue::ParseStreamEntries(list, 3, entries, malformed);
  for (const auto& entry : entries) {
    if (entry.partition != 3 || entry.message.delivery_id.empty() || entry.message.app_id.empty() ||
        entry.message.attempt < 1) {
      std::abort();
    }
    if (entry.message.event && entry.message.event->event_type.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const hookd::queue::Reply& reply :
       hookd::queue::ReadReplies({reinterpret_cast<const char*>(data), size})) {
    // XAUTOCLAIM: [cursor, entries, deleted]; XREADGROUP: [[stream, entries], ...].
    if (reply.elements.size() >= 2) CheckEntries(reply.elements[1]);
    for (const auto& stream : reply.elements) {
      if (stream.elements.size() == 2) CheckEntries(stream.elements[1]);
    }
    CheckEntries(reply);
  }
  return 0;
}
