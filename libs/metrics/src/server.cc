#include "hookd/metrics/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "absl/time/clock.h"
#include "httplib.h"
#include "spdlog/spdlog.h"

namespace hookd::metrics {
namespace {

absl::Status BadListen(std::string_view listen) {
  return absl::InvalidArgumentError("metrics_listen: \"" + std::string(listen) +
                                    "\" is not host:port or :port");
}

// Seconds since the epoch at which this process started: its start in clock ticks after boot
// (/proc/self/stat field 22) plus the boot time (/proc/stat btime); now when unreadable.
double ProcessStartTime() {
  double now = absl::ToUnixMicros(absl::Now()) / 1e6;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return now;
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return now;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  double ticks = 0;
  if (std::from_chars(field.data(), field.data() + field.size(), ticks).ec != std::errc()) {
    return now;
  }
  std::ifstream proc_stat("/proc/stat");
  std::string key;
  double boot = 0;
  while (proc_stat >> key) {
    if (key == "btime") {
      proc_stat >> boot;
      break;
    }
    std::getline(proc_stat, line);
  }
  long hz = sysconf(_SC_CLK_TCK);
  if (boot <= 0 || hz <= 0) return now;
  return boot + ticks / static_cast<double>(hz);
}

std::optional<double> ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  if (!(statm >> size >> resident)) return std::nullopt;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  static std::mutex mu;
  static auto* registered = new std::map<Registry*, std::vector<CallbackHandle>>();
  std::lock_guard<std::mutex> lock(mu);
  if (registered->count(&registry) > 0) return;
  const double start = ProcessStartTime();
  auto& handles = (*registered)[&registry];
  handles.push_back(registry.AddCallbackGauge("process_resident_memory_bytes",
                                              "Resident memory size in bytes.", ResidentBytes));
  handles.push_back(registry.AddCallbackGauge(
      "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      [start]() -> std::optional<double> { return start; }));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(std::string_view listen,
                                                                    Registry& registry) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return BadListen(listen);
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  std::string_view port_text = listen.substr(colon + 1);
  int port = -1;
  if (port_text.empty() ||
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec !=
          std::errc() ||
      port < 0 || port > 65535) {
    return BadListen(listen);
  }
  RegisterProcessMetrics(registry);
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->server_ = std::make_unique<httplib::Server>();
  // Scrapes are rare and quick; a few threads serve a few keep-alive scrapers.
  server->server_->new_task_queue = [] { return new httplib::ThreadPool(4); };
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second process share the
  // port silently instead of failing to start.
  server->server_->set_socket_options([](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->server_->Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    server->port_ = server->server_->bind_to_any_port(host);
  } else if (server->server_->bind_to_port(host, port)) {
    server->port_ = port;
  }
  if (server->port_ <= 0) {
    return absl::UnavailableError("metrics_listen: cannot listen on " + std::string(listen));
  }
  httplib::Server* http = server->server_.get();
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  // stop() only works once the loop runs; it starts at once, so this waits microseconds.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!http->is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return server;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::StartIfConfigured(
    std::string_view listen) {
  if (listen.empty()) return nullptr;
  auto server = Start(listen, DefaultRegistry());
  if (server.ok()) spdlog::info("serving /metrics on port {}", (*server)->port());
  return server;
}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hookd::metrics
