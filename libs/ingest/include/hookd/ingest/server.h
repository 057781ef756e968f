#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/common/clock.h"
#include "hookd/common/store_options.h"

namespace hookd::ingest {

// The largest request hookd-ingest reads: a whole PublishBatch, all its events together.
inline constexpr int kMaxRequestBytes = 64 << 20;

struct ServerOptions {
  // host:port; port 0 picks a free one (see Server::port()).
  std::string listen = "127.0.0.1:50052";
  // Plaintext grpc.health.v1 alone, for probes without a client certificate (empty: none).
  std::string health_listen;
  PgOptions postgres = {.url = "", .pool_size = 6};
  RedisOptions redis;
  std::string admin_token;
  // hookd-subscription, for the app change feed and the event type catalog.
  std::string subscription_addr;
  size_t max_payload_bytes = 256 * 1024;
  // Events per PublishBatch at most (RESOURCE_EXHAUSTED beyond); the batch's bytes are bounded
  // by kMaxRequestBytes too.
  int max_batch_events = 1000;
  absl::Duration idempotency_window = absl::Hours(24);
  int committer_threads = 2;
  absl::Duration sweep_interval = absl::Seconds(1);
  absl::Duration sweep_grace = absl::Seconds(5);
  absl::Duration catalog_refresh = absl::Seconds(2);
  // What "now" is when a publish's due time is decided (not owned; outlives the server).
  const Clock* clock = &Clock::Real();
};

// hookd-ingest: IngestService, health and reflection on one gRPC server.
class Server {
 public:
  // INVALID_ARGUMENT naming a missing or malformed setting; UNAVAILABLE when Postgres is down or
  // the address is taken. Redis being down at start is not fatal: publishes are stored and the
  // outbox sweeper enqueues them once Redis is back.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  int port() const;
  void Wait();
  // Stops accepting calls, answers those running (up to `grace`), commits what is queued.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Whether routing has its first full app sync (Publish answers UNAVAILABLE before).
  bool ready() const;

  struct State;

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hookd::ingest
