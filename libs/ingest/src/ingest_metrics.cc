#include "ingest_metrics.h"

#include "absl/strings/ascii.h"

namespace hookd::ingest {

const IngestMetrics& Metrics() {
  static const IngestMetrics* m = [] {
    metrics::Registry& r = metrics::DefaultRegistry();
    auto* m = new IngestMetrics{
        .events = r.AddCounterFamily(
            "hookd_ingest_events_total",
            "Events published, by result: ok (stored), duplicate (idempotency key seen), or the "
            "refusal's status code (invalid_argument, unauthenticated, permission_denied, "
            "resource_exhausted, unavailable, ...).",
            {"result"}),
        .deliveries = r.AddCounter("hookd_ingest_deliveries_total",
                                   "Deliveries created (one per event and subscribed app)."),
        .commit_batch_events = r.AddHistogram("hookd_ingest_commit_batch_events",
                                              "Events per group-commit transaction.",
                                              {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}),
        .outbox_swept = r.AddCounter(
            "hookd_ingest_outbox_swept_deliveries_total",
            "Deliveries the outbox sweeper enqueued because their first enqueue never happened "
            "(a crash between commit and XADD, or Redis down)."),
    };
    // The usual results exist from the start, so rates work from the first scrape.
    for (const char* result : {"ok", "duplicate", "invalid_argument"}) m->events.With({result});
    return m;
  }();
  return *m;
}

void CountRefused(const absl::Status& status, int events) {
  Metrics()
      .events.With({absl::AsciiStrToLower(absl::StatusCodeToString(status.code()))})
      .Increment(events);
}

absl::Status Refused(absl::Status status, int events) {
  CountRefused(status, events);
  return status;
}

void CountCommit(const absl::Status& status, const std::vector<v1::PublishResponse>& responses,
                 size_t events) {
  if (!status.ok()) {
    CountRefused(status, static_cast<int>(events));
    return;
  }
  const IngestMetrics& m = Metrics();
  for (const auto& response : responses) {
    m.events.With({response.duplicate() ? "duplicate" : "ok"}).Increment();
    if (!response.duplicate()) m.deliveries.Increment(response.delivery_count());
  }
}

}  // namespace hookd::ingest
