#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/apps/validation.h"
#include "hookd/common/store_options.h"
#include "hookd/opsevents/ops_events.h"
#include "hookd/subscription/retention.h"

namespace hookd::subscription {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free one (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Plaintext grpc.health.v1 alone, for probes without a client certificate (empty: none).
  std::string health_listen;
  // Postgres; its pool_size is also the number of threads running the blocking part of RPCs.
  PgOptions postgres = {.url = "", .pool_size = 8};
  std::string admin_token;
  // base64 of 32 bytes.
  std::string master_key;
  apps::ValidationOptions validation;
  // Redis of the delivery streams, so RetryDelivery and RecoverFailed enqueue at once; without
  // it they leave the deliveries in the outbox for hookd-ingest's sweeper (seconds later).
  // An empty url: none.
  RedisOptions redis;
  // How often watchers look for changes written by other replicas.
  absl::Duration watch_poll_interval = absl::Milliseconds(200);
  // How long RotateSecret keeps the previous secret when the request names no grace period.
  absl::Duration default_grace_period = absl::Hours(24);
  // The tenant hookd's operational events are published into (HOOKD_OPS_TENANT).
  std::string ops_tenant = opsevents::kDefaultTenant;
  // The delivery log's day partitions (by the one replica that leads it): creating the days
  // ahead, always, and dropping the days older than max_age, unless it is zero.
  RetentionOptions retention;
};

// hookd-subscription: AppService, EventTypeService, DeliveryService, health and reflection on
// one gRPC server.
class Server {
 public:
  // Applies migrations, connects, starts serving and the retention. INVALID_ARGUMENT naming the
  // setting when one is missing or malformed; UNAVAILABLE when Postgres is down or the address is
  // taken.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  // Shuts down.
  ~Server();

  // The port actually bound.
  int port() const;
  // Blocks until Shutdown() is called.
  void Wait();
  // Ends watches and the retention, stops accepting calls, waits up to `grace` for running
  // ones. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  struct State;

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hookd::subscription
