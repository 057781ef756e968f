#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hookd/queue/delivery_queue.h"

namespace hookd::queue {

// The text of an `outbox` row (Postgres): one "<delivery_id> <event_id> <app_id>" line per
// delivery waiting to be enqueued. Ingest writes one per committed batch; the delivery log writes
// one per retry or recovery; the outbox sweeper enqueues whatever is left.
std::string EncodeOutbox(const std::vector<DeliveryMessage>& messages);
// DATA_LOSS when a line does not have three fields.
absl::StatusOr<std::vector<DeliveryMessage>> DecodeOutbox(const std::string& text);

}  // namespace hookd::queue
