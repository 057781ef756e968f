#include "hookd/subscription/server.h"

#include <mutex>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "hookd/apps/app_store.h"
#include "hookd/apps/event_type_store.h"
#include "hookd/apps/validation.h"
#include "hookd/auth/authenticator.h"
#include "hookd/auth/reflection_service.h"
#include "hookd/common/config.h"
#include "hookd/common/status.h"
#include "hookd/common/thread_pool.h"
#include "hookd/crypto/secret_box.h"
#include "hookd/db/migrations.h"
#include "hookd/db/pg_pool.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/service/grpc_util.h"
#include "services.h"
#include "spdlog/spdlog.h"
#include "subscription_metrics.h"

namespace hookd::subscription {

// Members are destroyed in reverse order: the gRPC server first, then what its handlers use.
struct Server::State {
  std::unique_ptr<db::PgPool> db;
  std::unique_ptr<SecretBox> box;
  std::unique_ptr<auth::TokenCache> token_cache;
  std::unique_ptr<auth::TokenStore> token_store;
  std::unique_ptr<auth::Authenticator> auth;
  std::unique_ptr<auth::ReflectionService> reflection;
  std::unique_ptr<apps::AppStore> apps;
  std::unique_ptr<apps::EventTypeStore> event_types;
  std::unique_ptr<queue::DeliveryQueue> queue;  // null without a redis_url
  std::unique_ptr<ledger::DeliveryLog> deliveries;
  std::unique_ptr<opsevents::Publisher> ops;
  std::unique_ptr<ThreadPool> pool;
  // After the pool: destroying the sender aborts pending tests, whose callbacks use the pool.
  std::unique_ptr<http::HttpSender> sender;
  std::unique_ptr<AppWatchHub> hub;
  std::unique_ptr<ServiceContext> context;
  std::unique_ptr<AppServiceImpl> app_service;
  std::unique_ptr<EventTypeServiceImpl> event_type_service;
  std::unique_ptr<DeliveryServiceImpl> delivery_service;
  std::unique_ptr<TokenServiceImpl> token_service;
  std::unique_ptr<AuditServiceImpl> audit_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> health_server;  // shut down first
  std::unique_ptr<Retention> retention;
  // Last: the gauges read `db` and `hub`, so they go first.
  std::vector<metrics::CallbackHandle> gauges;
  int port = 0;
  std::once_flag shutdown_once;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.admin_token, "admin_token", "HOOKD_ADMIN_TOKEN"));
  HOOKD_RETURN_IF_ERROR(db::ValidatePgOptions(options.postgres));
  HOOKD_RETURN_IF_ERROR(RequireSetting(options.master_key, "master_key", "HOOKD_MASTER_KEY"));
  HOOKD_RETURN_IF_ERROR(apps::ValidateTenant(options.ops_tenant, "ops_tenant"));
  if (!options.redis.url.empty()) HOOKD_RETURN_IF_ERROR(queue::ValidateRedisOptions(options.redis));
  auto state = std::make_unique<State>();
  HOOKD_ASSIGN_OR_RETURN(state->box, SecretBox::Create(options.master_key));
  HOOKD_ASSIGN_OR_RETURN(state->retention,
                         Retention::Create(options.postgres.url, options.retention));
  HOOKD_RETURN_IF_ERROR(db::Migrate(options.postgres.url));
  HOOKD_ASSIGN_OR_RETURN(state->db, db::PgPool::Create(options.postgres));
  HOOKD_ASSIGN_OR_RETURN(state->token_cache, auth::TokenCache::Start(options.postgres.url));
  state->token_store = std::make_unique<auth::TokenStore>(*state->db);
  state->auth =
      std::make_unique<auth::Authenticator>(options.admin_token, state->token_cache.get());
  state->apps = apps::NewPgAppStore(*state->db, *state->box);
  state->event_types = apps::NewPgEventTypeStore(*state->db);
  HOOKD_ASSIGN_OR_RETURN(int sealed, apps::SealPlaintextHeaders(*state->db, *state->apps));
  if (sealed > 0) spdlog::info("sealed the custom header values of {} apps", sealed);
  if (!options.redis.url.empty()) {
    HOOKD_ASSIGN_OR_RETURN(state->queue, queue::DeliveryQueue::Create(options.redis));
  }
  state->deliveries = std::make_unique<ledger::DeliveryLog>(*state->db, state->queue.get());
  HOOKD_RETURN_IF_ERROR(opsevents::RegisterEventTypes(*state->db));
  state->ops = std::make_unique<opsevents::Publisher>(options.ops_tenant);
  http::HttpSenderOptions http;
  http.max_in_flight = 64;
  http.allow_http = options.validation.allow_http;
  http.private_allowlist = options.validation.private_allowlist;
  HOOKD_ASSIGN_OR_RETURN(state->sender, http::NewCurlSender(http));
  state->pool = std::make_unique<ThreadPool>(options.postgres.pool_size, "sub-rpc");
  state->hub = std::make_unique<AppWatchHub>(*state->apps, *state->pool,
                                             options.watch_poll_interval, *state->auth);
  state->context = std::make_unique<ServiceContext>(ServiceContext{
      .auth = *state->auth,
      .token_store = *state->token_store,
      .token_cache = *state->token_cache,
      .apps = *state->apps,
      .event_types = *state->event_types,
      .watch_hub = *state->hub,
      .deliveries = *state->deliveries,
      .ops = *state->ops,
      .db = *state->db,
      .queue = state->queue.get(),
      .sender = *state->sender,
      .pool = *state->pool,
      .validation = options.validation,
      .default_grace_period = options.default_grace_period,
  });
  state->app_service = std::make_unique<AppServiceImpl>(*state->context);
  state->event_type_service = std::make_unique<EventTypeServiceImpl>(*state->context);
  state->delivery_service = std::make_unique<DeliveryServiceImpl>(*state->context);
  state->token_service = std::make_unique<TokenServiceImpl>(*state->context);
  state->audit_service = std::make_unique<AuditServiceImpl>(*state->context);
  state->reflection = std::make_unique<auth::ReflectionService>(
      *state->auth,
      std::vector<std::string>{
          v1::AppService::service_full_name(), v1::EventTypeService::service_full_name(),
          v1::DeliveryService::service_full_name(), v1::TokenService::service_full_name(),
          v1::AuditService::service_full_name(), "grpc.health.v1.Health",
          grpc::reflection::v1alpha::ServerReflection::service_full_name()});

  HOOKD_ASSIGN_OR_RETURN(StartedServer started,
                         StartGrpcServer(options.listen,
                                         {state->app_service.get(), state->event_type_service.get(),
                                          state->delivery_service.get(), state->token_service.get(),
                                          state->audit_service.get(), state->reflection.get()},
                                         4 << 20, options.health_listen));
  state->server = std::move(started.server);
  state->health_server = std::move(started.health_server);
  state->port = started.port;
  state->gauges = ExportSubscriptionMetrics(*state->db, *state->hub);
  spdlog::info("hookd-subscription listening on port {}", state->port);
  // Always: besides removing old days it creates the partitions publishing needs.
  state->retention->Start();
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { Shutdown(); }

int Server::port() const { return state_->port; }

void Server::Wait() { state_->server->Wait(); }

void Server::Shutdown(absl::Duration grace) {
  std::call_once(state_->shutdown_once, [&] {
    state_->hub->Shutdown();
    state_->retention->Stop();
    if (state_->health_server) state_->health_server->Shutdown();
    state_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  });
}

}  // namespace hookd::subscription
