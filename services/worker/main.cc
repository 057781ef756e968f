// hookd-worker: consumes the delivery streams and POSTs signed webhooks.
#include "absl/flags/flag.h"
#include "hookd/http/ip_policy.h"
#include "hookd/metrics/server.h"
#include "hookd/service/service_main.h"
#include "hookd/worker/worker.h"

ABSL_FLAG(std::string, name, "", "consumer name in the Redis group (default host-pid)");
ABSL_FLAG(int, max_in_flight, 256, "HTTP requests in flight at once");
ABSL_FLAG(int, max_in_flight_per_app, 64,
          "HTTP requests in flight to one app at once; its further deliveries wait in the worker "
          "(no timeout runs there) and free slots go to the apps round-robin");
ABSL_FLAG(int, max_queued_per_app, 10000,
          "deliveries of one app waiting in the worker at most; at this many its stream "
          "partition is not read until they drain");
ABSL_FLAG(int, max_connections_per_host, 64,
          "requests in flight to one endpoint host (scheme, host, port) at once, so connections "
          "to it (0 = no limit); more wait in the worker, where no timeout runs");
ABSL_FLAG(absl::Duration, max_request_timeout, absl::Seconds(30),
          "upper bound of any app's request timeout");
ABSL_FLAG(absl::Duration, visibility_timeout, absl::Seconds(10),
          "an entry whose worker stopped keeping it claimed (it died) this long is taken over "
          "by another worker; at least 1s (live workers keep theirs claimed every second)");
ABSL_FLAG(double, retry_delay_scale, 1.0,
          "multiplies every retry delay (tests use e.g. 0.001 to run real schedules fast)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "after SIGTERM, how long in-flight requests may finish");
ABSL_FLAG(absl::Duration, lost_grace, absl::Minutes(5),
          "a due delivery without progress this long is enqueued again (Redis lost it)");

int main(int argc, char** argv) {
  hookd::ServiceSettings settings = hookd::ParseServiceFlags(
      argc, argv, "hookd-worker",
      "hookd-worker: consumes hookd's delivery streams, signs and POSTs each webhook, logs every\n"
      "attempt, retries with backoff, rate-limits per app and disables failing apps.\n"
      "Usage: hookd-worker [--database_url URL] [--redis_url URL] [--subscription_addr ADDR] ...",
      {.listen = ":50053", .database_pool_size = 4});
  hookd::worker::WorkerOptions options;
  options.listen = settings.listen;
  options.health_listen = settings.health_listen;
  options.postgres = settings.postgres;
  options.redis = settings.redis;
  options.admin_token = settings.admin_token;
  options.subscription_addr = settings.subscription_addr;
  options.allow_http = settings.allow_http;
  options.ops_tenant = settings.ops_tenant;
  auto allowlist = hookd::http::ParseAllowlist(settings.private_allowlist);
  if (!allowlist.ok()) return hookd::FailStartup(allowlist.status());
  options.private_allowlist = *allowlist;
  options.name = absl::GetFlag(FLAGS_name);
  options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  options.max_in_flight_per_app = absl::GetFlag(FLAGS_max_in_flight_per_app);
  options.max_queued_per_app = absl::GetFlag(FLAGS_max_queued_per_app);
  options.max_connections_per_host = absl::GetFlag(FLAGS_max_connections_per_host);
  options.max_request_timeout = absl::GetFlag(FLAGS_max_request_timeout);
  options.visibility_timeout = absl::GetFlag(FLAGS_visibility_timeout);
  options.retry_delay_scale = absl::GetFlag(FLAGS_retry_delay_scale);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.lost_grace = absl::GetFlag(FLAGS_lost_grace);

  auto metrics = hookd::metrics::MetricsServer::StartIfConfigured(settings.metrics_listen);
  if (!metrics.ok()) return hookd::FailStartup(metrics.status());
  auto worker = hookd::worker::Worker::Start(options);
  if (!worker.ok()) return hookd::FailStartup(worker.status());
  return hookd::ServeUntilSignal([&] { (*worker)->Wait(); }, [&] { (*worker)->Shutdown(); });
}
