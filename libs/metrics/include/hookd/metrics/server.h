#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "hookd/metrics/metrics.h"

namespace httplib {
class Server;
}

namespace hookd::metrics {

// Serves `GET /metrics` (the registry's text exposition) over HTTP on a thread of its own, so a
// scrape never runs on a gRPC thread. Other paths answer 404.
class MetricsServer {
 public:
  // Listens on `listen`: "host:port", or ":port" for every interface; port 0 picks a free one
  // (see port()). Registers the process metrics (see RegisterProcessMetrics) in `registry`.
  // INVALID_ARGUMENT naming metrics_listen for a malformed address, UNAVAILABLE when it cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(std::string_view listen,
                                                              Registry& registry);
  // For a service's main: null when `listen` is empty (metrics not asked for), else Start on
  // the default registry; logs the port it serves on.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> StartIfConfigured(std::string_view listen);
  // Stops serving.
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Adds the standard process_resident_memory_bytes (from /proc/self/statm) and
// process_start_time_seconds gauges to `registry`, once.
void RegisterProcessMetrics(Registry& registry);

}  // namespace hookd::metrics
