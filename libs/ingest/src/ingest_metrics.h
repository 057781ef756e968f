#pragma once

#include <vector>

#include "absl/status/status.h"
#include "hookd/metrics/metrics.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd::ingest {

// hookd-ingest's metrics, in the default registry (README's metrics table).
struct IngestMetrics {
  metrics::Family<metrics::Counter>& events;  // hookd_ingest_events_total{result}
  metrics::Counter& deliveries;               // hookd_ingest_deliveries_total
  metrics::Histogram& commit_batch_events;    // hookd_ingest_commit_batch_events
  metrics::Counter& outbox_swept;             // hookd_ingest_outbox_swept_deliveries_total
};

const IngestMetrics& Metrics();

// Counts `events` events refused with `status` (result: its code in lower case).
void CountRefused(const absl::Status& status, int events);
// CountRefused, then returns `status`, for `return Finish(Refused(...))`.
absl::Status Refused(absl::Status status, int events);
// Counts the outcome of a commit of `events` events: each response as ok, or duplicate for a
// repeated idempotency key, with the deliveries the new ones created; or, when `status` is an
// error, `events` refusals.
void CountCommit(const absl::Status& status, const std::vector<v1::PublishResponse>& responses,
                 size_t events);

}  // namespace hookd::ingest
