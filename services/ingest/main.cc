// hookd-ingest: durable, idempotent publish with fan-out onto Redis streams.
#include "absl/flags/flag.h"
#include "hookd/ingest/server.h"
#include "hookd/metrics/server.h"
#include "hookd/service/service_main.h"

ABSL_FLAG(int, max_payload_bytes, 256 * 1024, "largest payload accepted");
ABSL_FLAG(int, max_batch_events, 1000, "most events in one PublishBatch");
ABSL_FLAG(absl::Duration, idempotency_window, absl::Hours(24),
          "how long an idempotency key returns its first event");
ABSL_FLAG(int, committer_threads, 2, "transactions committing at once (group commit)");
ABSL_FLAG(absl::Duration, sweep_interval, absl::Seconds(1),
          "how often the outbox sweeper looks for batches never enqueued");
ABSL_FLAG(absl::Duration, sweep_grace, absl::Seconds(5),
          "how old an outbox batch must be before the sweeper enqueues it");

int main(int argc, char** argv) {
  hookd::ServiceSettings settings = hookd::ParseServiceFlags(
      argc, argv, "hookd-ingest",
      "hookd-ingest: takes events over gRPC (IngestService), stores them with one delivery\n"
      "per subscribed app in Postgres and enqueues the deliveries on Redis streams.\n"
      "Usage: hookd-ingest [--listen ADDR] [--database_url URL] [--redis_url URL] ...",
      {.listen = ":50052", .database_pool_size = 6});
  hookd::ingest::ServerOptions options;
  options.listen = settings.listen;
  options.health_listen = settings.health_listen;
  options.postgres = settings.postgres;
  options.redis = settings.redis;
  options.admin_token = settings.admin_token;
  options.subscription_addr = settings.subscription_addr;
  options.max_payload_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_payload_bytes));
  options.max_batch_events = absl::GetFlag(FLAGS_max_batch_events);
  options.idempotency_window = absl::GetFlag(FLAGS_idempotency_window);
  options.committer_threads = absl::GetFlag(FLAGS_committer_threads);
  options.sweep_interval = absl::GetFlag(FLAGS_sweep_interval);
  options.sweep_grace = absl::GetFlag(FLAGS_sweep_grace);

  auto metrics = hookd::metrics::MetricsServer::StartIfConfigured(settings.metrics_listen);
  if (!metrics.ok()) return hookd::FailStartup(metrics.status());
  auto server = hookd::ingest::Server::Start(options);
  if (!server.ok()) return hookd::FailStartup(server.status());
  return hookd::ServeUntilSignal([&] { (*server)->Wait(); }, [&] { (*server)->Shutdown(); });
}
