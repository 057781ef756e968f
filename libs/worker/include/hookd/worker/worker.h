#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hookd/common/clock.h"
#include "hookd/common/store_options.h"
#include "hookd/http/ip_policy.h"
#include "hookd/opsevents/ops_events.h"

namespace hookd::worker {

struct WorkerOptions {
  // gRPC address for health; port 0 picks one.
  std::string listen = "127.0.0.1:50053";
  // Plaintext grpc.health.v1 alone, for probes without a client certificate (empty: none).
  std::string health_listen;
  PgOptions postgres;
  RedisOptions redis;
  std::string admin_token;
  std::string subscription_addr;
  // Consumer name in the Redis group; default <hostname>-<pid>.
  std::string name;
  std::string group = "hookd-workers";
  // Requests in flight at once.
  int max_in_flight = 256;
  // Requests in flight to one app at once: a slow endpoint holds this share of the worker and no
  // more. Its further deliveries wait in the worker, where no timeout runs, and free slots go to
  // the apps round-robin (README, "Fair delivery").
  int max_in_flight_per_app = 64;
  // Deliveries of one app waiting in the worker at most; at this many its stream partition is
  // not read until they drain.
  int max_queued_per_app = 10000;
  // Requests in flight to one endpoint host at once (see
  // HttpSenderOptions::max_connections_per_host).
  int max_connections_per_host = 64;
  // Upper bound of any app's timeout (apps allow up to 30 s).
  absl::Duration max_request_timeout = absl::Seconds(30);
  // An entry this worker holds is kept claimed (its idle time reset) every second or quarter of
  // this, whichever is shorter, whether its request runs or waits. An entry idle for this long
  // is taken over by another worker: its worker died. At least 1 s.
  absl::Duration visibility_timeout = absl::Seconds(10);
  // Multiplies every retry delay (tests run real schedules in milliseconds).
  double retry_delay_scale = 1.0;
  bool allow_http = false;
  std::vector<http::IpNetwork> private_allowlist;
  // After SIGTERM: how long in-flight requests may finish before the worker exits anyway (their
  // entries are then taken over by other workers).
  absl::Duration shutdown_grace = absl::Seconds(20);
  // A due delivery without progress for this long is re-enqueued (Redis lost it).
  absl::Duration lost_grace = absl::Minutes(5);
  // How often retries are promoted, stale entries claimed and lost deliveries looked for.
  absl::Duration maintenance_interval = absl::Milliseconds(250);
  // The tenant operational events go to (HOOKD_OPS_TENANT): hookd.delivery.exhausted and
  // hookd.app.failing are published by the worker recording them.
  std::string ops_tenant = opsevents::kDefaultTenant;
  // What "now" is when the worker decides a delivery's next attempt or waits for an unknown
  // app; signatures and timeouts keep the real time (not owned; outlives the worker).
  const Clock* clock = &Clock::Real();
};

// hookd-worker: consumes the delivery streams, signs and POSTs, logs every attempt, schedules
// retries, rate-limits per app and disables failing apps. Stateless: run as many as needed.
class Worker {
 public:
  // INVALID_ARGUMENT naming a setting that is missing or inconsistent (a visibility timeout not
  // above the request timeout), UNAVAILABLE when Postgres or Redis is down at start.
  static absl::StatusOr<std::unique_ptr<Worker>> Start(const WorkerOptions& options);
  ~Worker();

  int port() const;
  // Blocks until Shutdown() finished.
  void Wait();
  // Stops reading, lets in-flight requests finish within the grace period, records and
  // acknowledges them, then stops. Idempotent.
  void Shutdown();

  struct State;

 private:
  explicit Worker(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hookd::worker
