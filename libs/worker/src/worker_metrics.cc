#include "worker_metrics.h"

#include <memory>

#include "absl/time/clock.h"
#include "hookd/appcache/cache_metrics.h"
#include "hookd/common/logging.h"
#include "hookd/v1/delivery.pb.h"

namespace hookd::worker {

const WorkerMetrics& Metrics() {
  static const WorkerMetrics* m = [] {
    metrics::Registry& r = metrics::DefaultRegistry();
    auto* m = new WorkerMetrics{
        .attempts = r.AddCounterFamily(
            "hookd_worker_attempts_total",
            "Delivery attempts finished, by outcome: succeeded (2xx), retrying (failed, another "
            "attempt scheduled), failed (failed, no attempt left), gone (410: failed, app "
            "disabled).",
            {"outcome"}),
        .app_attempts = r.AddCounterFamily(
            "hookd_worker_app_attempts_total",
            "Delivery attempts finished, by app and outcome; at most 100 app ids per worker, "
            "later apps count as app_id=\"other\".",
            {"app_id", "outcome"}, metrics::FamilyOptions{.bounded_label = 0}),
        .attempt_duration = r.AddHistogram(
            "hookd_worker_attempt_duration_seconds",
            "HTTP duration of each delivery attempt, until the response or the error.",
            metrics::LatencyBuckets()),
        .delivery_lag = r.AddHistogram(
            "hookd_worker_delivery_lag_seconds",
            "From an event's publication to the end of each attempt to deliver it (retries "
            "included).",
            metrics::LagBuckets()),
        .apps_disabled = r.AddCounter(
            "hookd_worker_apps_disabled_total",
            "Apps this worker disabled: a 410 Gone, or a streak of failed deliveries."),
        .rate_limited = r.AddCounter(
            "hookd_worker_rate_limited_total",
            "Deliveries put back for later because their app was over its rate limit (not "
            "attempts)."),
        .app_in_flight = r.AddGaugeFamily(
            "hookd_worker_app_in_flight_requests",
            "Requests of this worker running, by app (at most --max_in_flight_per_app each); at "
            "most 100 app ids per worker, later apps count as app_id=\"other\".",
            {"app_id"}, metrics::FamilyOptions{.bounded_label = 0}),
        .app_queued = r.AddGaugeFamily(
            "hookd_worker_app_queued_deliveries",
            "Deliveries this worker read and holds for their app's turn, by app (at most "
            "--max_queued_per_app each); at most 100 app ids per worker, later apps count as "
            "app_id=\"other\".",
            {"app_id"}, metrics::FamilyOptions{.bounded_label = 0}),
    };
    for (const char* outcome : {"succeeded", "retrying", "failed", "gone"}) {
      m->attempts.With({outcome});
    }
    return m;
  }();
  return *m;
}

std::string_view OutcomeName(const Outcome& outcome) {
  switch (outcome.status) {
    case v1::SUCCEEDED:
      return "succeeded";
    case v1::RETRYING:
      return "retrying";
    default:
      return outcome.result.status_code == 410 ? "gone" : "failed";
  }
}

void ReportAttempt(const Outcome& outcome, const LoadedDelivery& delivery) {
  const WorkerMetrics& m = Metrics();
  std::string_view name = OutcomeName(outcome);
  m.attempts.With({name}).Increment();
  m.app_attempts.With({outcome.app_id, name}).Increment();
  m.attempt_duration.Observe(outcome.result.duration);
  absl::Time end = outcome.result.start_time == absl::Time()
                       ? absl::Now()
                       : outcome.result.start_time + outcome.result.duration;
  m.delivery_lag.Observe(end - delivery.event.create_time);

  const bool failed = name == "failed" || name == "gone";
  Log(failed ? spdlog::level::warn : spdlog::level::debug,
      failed ? "delivery failed" : "delivery attempt",
      {{"delivery_id", outcome.delivery_id},
       {"event_id", delivery.event.id},
       {"app_id", outcome.app_id},
       {"outcome", name},
       {"attempt", outcome.attempt},
       {"status_code", outcome.result.status_code},
       {"error", v1::AttemptError_Name(outcome.result.error)},
       {"duration_ms", absl::ToInt64Milliseconds(outcome.result.duration)}});
}

std::vector<metrics::CallbackHandle> ExportWorkerGauges(queue::DeliveryQueue& queue,
                                                        const std::string& group,
                                                        const http::HttpSender& sender,
                                                        const appcache::AppCache& apps) {
  Metrics();  // every worker metric is there from the first scrape
  metrics::Registry& r = metrics::DefaultRegistry();
  std::vector<metrics::CallbackHandle> handles = appcache::ExportCacheMetrics(apps);
  handles.push_back(r.AddCallbackGauge(
      "hookd_worker_in_flight_requests",
      "Webhook HTTP requests of this worker started and not finished (queued for a slot "
      "included).",
      [&sender]() -> std::optional<double> { return sender.in_flight(); }));
  // The three queue gauges share one pipelined round trip per scrape.
  using Depth = queue::DeliveryQueue::Depth;
  auto depth = std::make_shared<metrics::SampleCache<Depth>>(
      [&queue, group]() -> std::optional<Depth> {
        auto d = queue.GetDepth(group);
        if (!d.ok()) return std::nullopt;
        return *d;
      },
      absl::Seconds(1));
  handles.push_back(metrics::AddSampledGauge(
      r, "hookd_queue_stream_entries",
      "Entries on the delivery streams, read or not, summed over partitions (cluster-wide: every "
      "worker reports the same).",
      depth, &Depth::stream_length));
  handles.push_back(metrics::AddSampledGauge(
      r, "hookd_queue_pending_entries",
      "Stream entries read by a worker of the group and not yet acknowledged (cluster-wide).",
      depth, &Depth::pending));
  handles.push_back(metrics::AddSampledGauge(
      r, "hookd_queue_retry_scheduled",
      "Deliveries waiting in the retry sets for their next attempt (cluster-wide).", depth,
      &Depth::retry_scheduled));
  return handles;
}

}  // namespace hookd::worker
