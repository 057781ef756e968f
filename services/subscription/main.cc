// hookd-subscription: the control plane (apps, event types, the delivery log and its retention).
// Flags -> config -> serve.
#include "absl/flags/flag.h"
#include "hookd/common/config.h"
#include "hookd/common/status.h"
#include "hookd/http/ip_policy.h"
#include "hookd/metrics/server.h"
#include "hookd/service/service_main.h"
#include "hookd/subscription/server.h"

ABSL_FLAG(std::string, retention, "",
          "age after which a day of events, their deliveries (whatever their status) and attempts "
          "is dropped whole, e.g. 720h; 0 keeps everything (env HOOKD_RETENTION, default 720h = "
          "30 days)");
ABSL_FLAG(int, retention_batch, 5000,
          "keyed events whose idempotency keys are deleted per transaction, before their day "
          "is dropped");
ABSL_FLAG(absl::Duration, retention_pause, absl::Milliseconds(100),
          "wait between two retention batches");
ABSL_FLAG(absl::Duration, retention_interval, absl::Minutes(10),
          "wait between two retention passes");

int main(int argc, char** argv) {
  hookd::ServiceSettings settings = hookd::ParseServiceFlags(
      argc, argv, "hookd-subscription",
      "hookd-subscription: the hookd control plane (AppService, EventTypeService,\n"
      "DeliveryService). It also keeps the delivery log's day partitions: it creates them\n"
      "7 days ahead and drops the days older than --retention (one replica at a time).\n"
      "Usage: hookd-subscription [--listen ADDR] [--database_url URL] ...",
      {.listen = ":50051", .database_pool_size = 8});
  hookd::subscription::ServerOptions options;
  options.listen = settings.listen;
  options.health_listen = settings.health_listen;
  options.postgres = settings.postgres;
  options.admin_token = settings.admin_token;
  options.master_key = settings.master_key;
  options.redis = settings.redis;
  options.ops_tenant = settings.ops_tenant;
  options.validation.allow_http = settings.allow_http;
  auto allowlist = hookd::http::ParseAllowlist(settings.private_allowlist);
  if (!allowlist.ok()) return hookd::FailStartup(allowlist.status());
  options.validation.private_allowlist = *allowlist;
  const std::string retention =
      hookd::FlagOrEnv(absl::GetFlag(FLAGS_retention), "HOOKD_RETENTION", "720h");
  if (!absl::ParseDuration(retention, &options.retention.max_age) ||
      options.retention.max_age == absl::InfiniteDuration()) {
    return hookd::FailStartup(
        hookd::InvalidField("retention", "\"" + retention + "\" is not a duration such as 720h"));
  }
  options.retention.batch_size = absl::GetFlag(FLAGS_retention_batch);
  options.retention.pause = absl::GetFlag(FLAGS_retention_pause);
  options.retention.interval = absl::GetFlag(FLAGS_retention_interval);

  auto metrics = hookd::metrics::MetricsServer::StartIfConfigured(settings.metrics_listen);
  if (!metrics.ok()) return hookd::FailStartup(metrics.status());
  auto server = hookd::subscription::Server::Start(options);
  if (!server.ok()) return hookd::FailStartup(server.status());
  return hookd::ServeUntilSignal([&] { (*server)->Wait(); }, [&] { (*server)->Shutdown(); });
}
