#include "hookd/ingest/server.h"

#include <mutex>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "hookd/appcache/cache_metrics.h"
#include "hookd/auth/reflection_service.h"
#include "hookd/common/config.h"
#include "hookd/common/status.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/service/grpc_util.h"
#include "ingest_metrics.h"
#include "ingest_service.h"
#include "spdlog/spdlog.h"

namespace hookd::ingest {

// Destroyed in reverse order: the gRPC server first, then the pipeline behind it, so queued
// events are committed and enqueued before their dependencies go away.
struct Server::State {
  std::unique_ptr<db::PgPool> db;
  std::unique_ptr<queue::DeliveryQueue> queue;
  std::unique_ptr<auth::TokenCache> tokens;
  std::unique_ptr<auth::Authenticator> auth;
  std::unique_ptr<appcache::AppCache> apps;
  std::unique_ptr<appcache::EventTypeCatalog> catalog;
  std::unique_ptr<ledger::Enqueuer> enqueuer;
  std::unique_ptr<ledger::OutboxSweeper> sweeper;
  std::unique_ptr<Committer> committer;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<IngestContext> context;
  std::unique_ptr<IngestServiceImpl> service;
  std::unique_ptr<auth::ReflectionService> reflection;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> health_server;  // shut down first
  // Last: the gauges read `apps`, so they go first.
  std::vector<metrics::CallbackHandle> gauges;
  int port = 0;
  std::once_flag shutdown_once;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.admin_token, "admin_token", "HOOKD_ADMIN_TOKEN"));
  HOOKD_RETURN_IF_ERROR(db::ValidatePgOptions(options.postgres));
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.redis.url, "redis_url", "HOOKD_REDIS_URL"));
  HOOKD_RETURN_IF_ERROR(queue::ValidateRedisOptions(options.redis));
  HOOKD_RETURN_IF_ERROR(
      RequireSetting(options.subscription_addr, "subscription_addr", "HOOKD_SUBSCRIPTION_ADDR"));
  auto state = std::make_unique<State>();
  // Ingest may start before hookd-subscription has migrated: both apply migrations under the
  // same advisory lock, so the order does not matter.
  HOOKD_RETURN_IF_ERROR(db::Migrate(options.postgres.url));
  HOOKD_ASSIGN_OR_RETURN(state->db, db::PgPool::Create(options.postgres));
  HOOKD_ASSIGN_OR_RETURN(state->queue, queue::DeliveryQueue::Create(options.redis));
  HOOKD_ASSIGN_OR_RETURN(state->tokens, auth::TokenCache::Start(options.postgres.url));
  state->auth = std::make_unique<auth::Authenticator>(options.admin_token, state->tokens.get());
  appcache::AppCacheOptions cache;
  cache.subscription_addr = options.subscription_addr;
  cache.token = options.admin_token;
  state->apps = std::make_unique<appcache::AppCache>(cache);
  state->apps->Start();
  Metrics();  // every ingest metric is there from the first scrape
  state->gauges = appcache::ExportCacheMetrics(*state->apps);
  state->catalog = std::make_unique<appcache::EventTypeCatalog>(
      options.subscription_addr, options.admin_token, options.catalog_refresh);
  state->catalog->Start();
  state->enqueuer = std::make_unique<ledger::Enqueuer>(*state->db, *state->queue);
  state->sweeper = std::make_unique<ledger::OutboxSweeper>(
      options.postgres.url, *state->db, *state->queue,
      ledger::SweeperOptions{
          .interval = options.sweep_interval, .grace = options.sweep_grace, .on_swept = [](int n) {
            Metrics().outbox_swept.Increment(static_cast<double>(n));
          }});
  state->sweeper->Start();
  state->committer = std::make_unique<Committer>(
      *state->db, *state->enqueuer,
      CommitterOptions{.threads = options.committer_threads,
                       .idempotency_window = options.idempotency_window});
  state->pool = std::make_unique<ThreadPool>(4, "ingest");
  state->context = std::make_unique<IngestContext>(IngestContext{
      .auth = *state->auth,
      .apps = *state->apps,
      .catalog = *state->catalog,
      .committer = *state->committer,
      .db = *state->db,
      .pool = *state->pool,
      .limits = {.max_payload_bytes = options.max_payload_bytes},
      .max_batch_events = options.max_batch_events,
      .clock = *options.clock,
  });
  state->service = std::make_unique<IngestServiceImpl>(*state->context);
  state->reflection = std::make_unique<auth::ReflectionService>(
      *state->auth,
      std::vector<std::string>{v1::IngestService::service_full_name(), "grpc.health.v1.Health",
                               grpc::reflection::v1alpha::ServerReflection::service_full_name()});

  // A request (a PublishBatch in all) of at most 64 MiB; gRPC answers a larger one
  // RESOURCE_EXHAUSTED before it reaches a handler (README, "Limits").
  HOOKD_ASSIGN_OR_RETURN(
      StartedServer started,
      StartGrpcServer(options.listen, {state->service.get(), state->reflection.get()},
                      kMaxRequestBytes, options.health_listen));
  state->server = std::move(started.server);
  state->health_server = std::move(started.health_server);
  state->port = started.port;
  spdlog::info("hookd-ingest listening on port {}", state->port);
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { Shutdown(); }

int Server::port() const { return state_->port; }

void Server::Wait() { state_->server->Wait(); }

bool Server::ready() const { return state_->apps->synced(); }

void Server::Shutdown(absl::Duration grace) {
  std::call_once(state_->shutdown_once, [&] {
    if (state_->health_server) state_->health_server->Shutdown();
    state_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    state_->sweeper->Stop();
    state_->apps->Stop();
    state_->catalog->Stop();
  });
}

}  // namespace hookd::ingest
