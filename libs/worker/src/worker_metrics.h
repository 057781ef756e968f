#pragma once

#include <string>
#include <vector>

#include "hookd/appcache/app_cache.h"
#include "hookd/http/http_sender.h"
#include "hookd/ledger/delivery_store.h"
#include "hookd/metrics/metrics.h"
#include "hookd/queue/delivery_queue.h"

namespace hookd::worker {

// The delivery ledger's records, as the worker passes them around.
using ledger::LoadedDelivery;
using ledger::Outcome;

// hookd-worker's metrics, in the default registry (README's metrics table).
struct WorkerMetrics {
  metrics::Family<metrics::Counter>& attempts;      // hookd_worker_attempts_total{outcome}
  metrics::Family<metrics::Counter>& app_attempts;  // hookd_worker_app_attempts_total{app_id,..}
  metrics::Histogram& attempt_duration;             // hookd_worker_attempt_duration_seconds
  metrics::Histogram& delivery_lag;                 // hookd_worker_delivery_lag_seconds
  metrics::Counter& apps_disabled;                  // hookd_worker_apps_disabled_total
  metrics::Counter& rate_limited;                   // hookd_worker_rate_limited_total
  metrics::Family<metrics::Gauge>& app_in_flight;   // hookd_worker_app_in_flight_requests{app_id}
  metrics::Family<metrics::Gauge>& app_queued;      // hookd_worker_app_queued_deliveries{app_id}
};

const WorkerMetrics& Metrics();

// What an attempt's outcome is called in metrics and logs: succeeded, retrying, failed (no
// attempt left) or gone (410: failed, and the app is disabled).
std::string_view OutcomeName(const Outcome& outcome);

// Counts one finished attempt of `delivery` (by outcome and by app), its HTTP duration and the
// lag from the event's publication to the attempt's end, and logs it: debug for a success or a
// retry, warn for a delivery that failed for good. Never logs the payload or the response body.
void ReportAttempt(const Outcome& outcome, const LoadedDelivery& delivery);

// Exports the worker's sampled gauges while the handles live (destroy them before what they
// read): HTTP requests in flight, the queue's backlog (one pipelined round trip per scrape at
// most once a second), and the app cache.
std::vector<metrics::CallbackHandle> ExportWorkerGauges(queue::DeliveryQueue& queue,
                                                        const std::string& group,
                                                        const http::HttpSender& sender,
                                                        const appcache::AppCache& apps);

}  // namespace hookd::worker
