#include "hookd/common/service_main.h"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "hookd/common/config.h"
#include "hookd/common/logging.h"
#include "spdlog/spdlog.h"

// Secrets keep empty flag defaults and come from the environment, so `--help` and `ps` never
// show them unless an operator passes them on the command line on purpose.
ABSL_FLAG(std::string, listen, "", "gRPC listen address (env HOOKD_LISTEN)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics HTTP address (env HOOKD_METRICS_LISTEN); reserved, not served "
          "yet");
ABSL_FLAG(std::string, database_url, "",
          "Postgres url, postgresql://user@host:port/db (env HOOKD_DATABASE_URL)");
ABSL_FLAG(std::string, redis_url, "", "Redis url, redis://host:port/db (env HOOKD_REDIS_URL)");
ABSL_FLAG(std::string, admin_token, "",
          "bootstrap admin bearer token (env HOOKD_ADMIN_TOKEN; prefer the environment)");
ABSL_FLAG(std::string, master_key, "",
          "base64 of 32 bytes encrypting secrets at rest (env HOOKD_MASTER_KEY; prefer the "
          "environment)");
ABSL_FLAG(std::string, subscription_addr, "",
          "where hookd-subscription answers (env HOOKD_SUBSCRIPTION_ADDR, default "
          "127.0.0.1:50051)");
ABSL_FLAG(std::string, allow_http, "",
          "true permits plain http:// endpoint urls (env HOOKD_ALLOW_HTTP, default false)");
ABSL_FLAG(std::string, private_allowlist, "",
          "comma-separated CIDRs endpoints may resolve to although private or loopback "
          "(env HOOKD_PRIVATE_ALLOWLIST, default none)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical or off");

namespace hookd {
namespace {

[[noreturn]] void Die(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  std::exit(2);
}

// ":50051" means every interface, as DESIGN.md's table writes it.
std::string ListenAddress(std::string value) {
  if (!value.empty() && value.front() == ':') return "0.0.0.0" + value;
  return value;
}

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

ServiceSettings ParseServiceFlags(int argc, char** argv, std::string_view service,
                                  std::string_view usage, std::string_view default_listen) {
  // Blocked before any thread exists, so every thread (gRPC's included) inherits the mask and
  // the signals reach only ServeUntilSignal's sigwait, never a default handler.
  sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // `--help` lists hookd's flags (the service's own and the shared ones above), not Abseil's.
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "/services/") || absl::StrContains(file, "service_main");
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(std::string(usage) +
                               "\nEvery flag falls back to its HOOKD_* environment variable.");
  absl::ParseCommandLine(argc, argv);
  if (auto status = InitLogging(service, absl::GetFlag(FLAGS_log_level)); !status.ok()) {
    Die(status);
  }
  ServiceSettings s;
  s.listen = ListenAddress(FlagOrEnv(absl::GetFlag(FLAGS_listen), "HOOKD_LISTEN", default_listen));
  s.metrics_listen = FlagOrEnv(absl::GetFlag(FLAGS_metrics_listen), "HOOKD_METRICS_LISTEN");
  s.database_url = FlagOrEnv(absl::GetFlag(FLAGS_database_url), "HOOKD_DATABASE_URL");
  s.redis_url = FlagOrEnv(absl::GetFlag(FLAGS_redis_url), "HOOKD_REDIS_URL");
  s.admin_token = FlagOrEnv(absl::GetFlag(FLAGS_admin_token), "HOOKD_ADMIN_TOKEN");
  s.master_key = FlagOrEnv(absl::GetFlag(FLAGS_master_key), "HOOKD_MASTER_KEY");
  s.subscription_addr = FlagOrEnv(absl::GetFlag(FLAGS_subscription_addr), "HOOKD_SUBSCRIPTION_ADDR",
                                  "127.0.0.1:50051");
  auto allow_http =
      ParseBool("allow_http", FlagOrEnv(absl::GetFlag(FLAGS_allow_http), "HOOKD_ALLOW_HTTP"));
  if (!allow_http.ok()) Die(allow_http.status());
  s.allow_http = *allow_http;
  s.private_allowlist =
      FlagOrEnv(absl::GetFlag(FLAGS_private_allowlist), "HOOKD_PRIVATE_ALLOWLIST");
  return s;
}

int ServeUntilSignal(const std::function<void()>& wait, const std::function<void()>& shutdown) {
  sigset_t signals = ShutdownSignals();
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {}: shutting down", signal);
    shutdown();
  });
  wait();
  waiter.join();
  spdlog::info("stopped");
  return 0;
}

int FailStartup(const absl::Status& status) {
  spdlog::critical("{}", status.ToString());
  return 1;
}

}  // namespace hookd
