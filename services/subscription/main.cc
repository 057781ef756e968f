// hookd-subscription: the control plane (apps, event types). Flags -> config -> serve.
#include "absl/flags/flag.h"
#include "hookd/apps/ip_policy.h"
#include "hookd/common/service_main.h"
#include "hookd/metrics/server.h"
#include "hookd/subscription/server.h"

ABSL_FLAG(int, database_pool_size, 8, "Postgres connections and RPC worker threads");
ABSL_FLAG(int, partitions, 16, "Redis stream partitions (every ingest and worker must agree)");
ABSL_FLAG(std::string, redis_key_prefix, "hookd", "prefix of every Redis key");

int main(int argc, char** argv) {
  hookd::ServiceSettings settings = hookd::ParseServiceFlags(
      argc, argv, "hookd-subscription",
      "hookd-subscription: the hookd control plane (AppService, EventTypeService,\n"
      "DeliveryService).\n"
      "Usage: hookd-subscription [--listen ADDR] [--database_url URL] ...",
      ":50051");
  hookd::subscription::ServerOptions options;
  options.listen = settings.listen;
  options.database_url = settings.database_url;
  options.admin_token = settings.admin_token;
  options.master_key = settings.master_key;
  options.database_pool_size = absl::GetFlag(FLAGS_database_pool_size);
  options.redis_url = settings.redis_url;
  options.redis_key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  options.partitions = absl::GetFlag(FLAGS_partitions);
  options.validation.allow_http = settings.allow_http;
  auto allowlist = hookd::apps::ParseAllowlist(settings.private_allowlist);
  if (!allowlist.ok()) return hookd::FailStartup(allowlist.status());
  options.validation.private_allowlist = *allowlist;

  auto metrics = hookd::metrics::MetricsServer::StartIfConfigured(settings.metrics_listen);
  if (!metrics.ok()) return hookd::FailStartup(metrics.status());
  auto server = hookd::subscription::Server::Start(options);
  if (!server.ok()) return hookd::FailStartup(server.status());
  return hookd::ServeUntilSignal([&] { (*server)->Wait(); }, [&] { (*server)->Shutdown(); });
}
