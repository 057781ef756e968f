// hookd-subscription: the control plane (apps, event types). Flags -> config -> serve.
#include <csignal>
#include <cstdlib>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "hookd/apps/ip_policy.h"
#include "hookd/common/config.h"
#include "hookd/common/logging.h"
#include "hookd/subscription/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "", "gRPC listen address (env HOOKD_LISTEN, default :50051)");
ABSL_FLAG(std::string, database_url, "", "Postgres url (env HOOKD_DATABASE_URL)");
ABSL_FLAG(std::string, admin_token, "",
          "bootstrap admin bearer token (env HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(std::string, master_key, "",
          "base64 of 32 bytes encrypting secrets at rest (env HOOKD_MASTER_KEY; prefer the "
          "environment)");
ABSL_FLAG(std::string, allow_http, "",
          "true permits plain http:// endpoint urls (env HOOKD_ALLOW_HTTP, default false)");
ABSL_FLAG(std::string, private_allowlist, "",
          "comma-separated CIDRs endpoints may use although private or loopback "
          "(env HOOKD_PRIVATE_ALLOWLIST, default none)");
ABSL_FLAG(int, database_pool_size, 8, "Postgres connections and RPC worker threads");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");

namespace {

int Fail(const absl::Status& status) {
  spdlog::critical("{}", status.ToString());
  return 1;
}

// The listen default ":50051" means every interface, as DESIGN.md's table says.
std::string ListenAddress(std::string value) {
  if (!value.empty() && value.front() == ':') return "0.0.0.0" + value;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "hookd-subscription: the hookd control plane (AppService, EventTypeService).\n"
      "Every flag falls back to its HOOKD_* environment variable.\n"
      "Usage: hookd-subscription [--listen ADDR] [--database_url URL] ...");
  absl::ParseCommandLine(argc, argv);
  if (auto status = hookd::InitLogging("hookd-subscription", absl::GetFlag(FLAGS_log_level));
      !status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 2;
  }

  hookd::subscription::ServerOptions options;
  options.listen = ListenAddress(hookd::FlagOrEnv(absl::GetFlag(FLAGS_listen), "HOOKD_LISTEN", ":50051"));
  options.database_url = hookd::FlagOrEnv(absl::GetFlag(FLAGS_database_url), "HOOKD_DATABASE_URL");
  options.admin_token = hookd::FlagOrEnv(absl::GetFlag(FLAGS_admin_token), "HOOKD_ADMIN_TOKEN");
  options.master_key = hookd::FlagOrEnv(absl::GetFlag(FLAGS_master_key), "HOOKD_MASTER_KEY");
  options.database_pool_size = absl::GetFlag(FLAGS_database_pool_size);
  auto allow_http = hookd::ParseBool(
      "allow_http", hookd::FlagOrEnv(absl::GetFlag(FLAGS_allow_http), "HOOKD_ALLOW_HTTP"));
  if (!allow_http.ok()) return Fail(allow_http.status());
  options.validation.allow_http = *allow_http;
  auto allowlist = hookd::apps::ParseAllowlist(
      hookd::FlagOrEnv(absl::GetFlag(FLAGS_private_allowlist), "HOOKD_PRIVATE_ALLOWLIST"));
  if (!allowlist.ok()) return Fail(allowlist.status());
  options.validation.private_allowlist = *allowlist;

  // Block the signals in every thread; one thread waits for them and shuts down cleanly.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = hookd::subscription::Server::Start(options);
  if (!server.ok()) return Fail(server.status());

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {}: shutting down", signal);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  spdlog::info("stopped");
  return 0;
}
